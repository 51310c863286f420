"""What the bot page's "Speech models" card shows: each model the bot selected, installed or not, with
its size and the state of a background download (`audio.model_downloads`). Read by the card's view
(studio/views/voice_models.py) and its template tag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from audio import model_downloads, model_store
from bots.engines import LEGACY_TTS_VENDORS, AsrEngine, TtsEngine
from bots.models import Bot


def _looks_like_path(value: str) -> bool:
    return "/" in value and Path(value).expanduser().is_absolute() or value.startswith((".", "~"))


def _row(label: str, name: str, state: model_store.ModelState | None) -> dict[str, Any]:
    download = model_downloads.download_state(name) if state is not None else None
    if download and download["state"] == "done" and state is not None and not state.installed:
        download = None  # removed since: offer the button again
    percent = 0
    if download and download.get("total"):
        percent = min(100, int(download["done"] * 100 / download["total"]))
    return {"label": label, "name": name, "state": state, "download": download, "percent": percent}


def voice_model_rows(bot: Bot) -> list[dict[str, Any]]:
    """The bot's ASR model and Piper voice (local paths and remote engines are shown as such)."""
    rows = []
    asr_name = (bot.whisper_model or "").strip() or model_store.PACKAGED_ASR
    if _looks_like_path(asr_name):
        exists = Path(asr_name).expanduser().exists()
        rows.append(
            _row(
                "Speech recognition",
                asr_name,
                model_store.ModelState(model_store.ASR, bot.asr_engine, asr_name, exists, 0, asr_name, pullable=False),
            )
        )
    else:
        engine = "faster_whisper" if bot.asr_engine == AsrEngine.FASTER_WHISPER else bot.asr_engine
        rows.append(_row("Speech recognition", asr_name, model_store.asr_state(asr_name, engine)))
    vendor = LEGACY_TTS_VENDORS.get(bot.tts_vendor, bot.tts_vendor)
    if vendor == TtsEngine.PIPER:
        voice = (bot.tts_voice or "").strip() or settings.VOICEBOT_PIPER_DEFAULT_VOICE
        if voice.endswith(".onnx") or _looks_like_path(voice):
            exists = Path(voice).expanduser().is_file()
            state = model_store.ModelState(model_store.TTS, "piper", voice, exists, 0, voice, pullable=False)
            rows.append(_row("Voice (Piper)", voice, state))
        else:
            rows.append(_row("Voice (Piper)", voice, model_store.piper_state(voice)))
    else:
        rows.append({"label": "Voice", "name": vendor, "state": None, "download": None, "percent": 0})
    return rows


def voice_models_context(bot: Bot) -> dict[str, Any]:
    rows = voice_model_rows(bot)
    return {"voice_models": rows, "downloading": any((r["download"] or {}).get("state") == "running" for r in rows)}
