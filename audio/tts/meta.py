"""What a voice offers: its speakers and languages (`GET /api/tts/meta`, the Studio's voice picker).

The reference's endpoint loaded any Coqui model name a caller sent (a download of gigabytes on
request, [SECURITY] INVENTORY §15.1.10). Here an XTTS model must be one the options list or a bot
names, and a Piper voice's speakers come from its `.onnx.json` (`speaker_id_map`) without loading the
model. Voices are named, never given as a path by the caller; a bot's own voice (which staff may have
set to a local path) is looked up through the bot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio.tts.base import TtsError, TtsSpec
from bots.engines import LEGACY_TTS_VENDORS, TtsEngine

if TYPE_CHECKING:
    from bots.models import Bot


class MetaError(ValueError):
    """A request for a voice this server does not offer; the message says what to send."""


@dataclass
class VoiceMeta:
    engine: str
    voice: str
    speakers: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    available: bool = True  # the engine and voice can be used here
    detail: str = ""  # why not, when unavailable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def piper_speakers(config: dict[str, Any]) -> list[str]:
    """A Piper voice's speaker names (its `speaker_id_map`), in speaker-id order."""
    mapping = config.get("speaker_id_map") or {}
    if not isinstance(mapping, dict):
        return []
    return [name for name, _id in sorted(mapping.items(), key=lambda item: (item[1], item[0]))]


def piper_meta(voice: str) -> VoiceMeta:
    """Speakers and language of a Piper voice (a name, or the bot's stored path), from its config."""
    from audio.tts.piper import resolve_voice

    try:
        path = resolve_voice(voice)
        config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    except TtsError as exc:
        return VoiceMeta(TtsEngine.PIPER, voice, available=False, detail=str(exc))
    except (OSError, ValueError) as exc:
        return VoiceMeta(TtsEngine.PIPER, voice, available=False, detail=f"Unreadable voice config: {exc}")
    language = config.get("language") or {}
    code = language.get("code") if isinstance(language, dict) else None
    espeak = (config.get("espeak") or {}).get("voice") if isinstance(config.get("espeak"), dict) else None
    return VoiceMeta(
        TtsEngine.PIPER, path.stem, speakers=piper_speakers(config), languages=[c for c in [code or espeak] if c]
    )


def allowed_xtts_models() -> list[str]:
    from bots.models import Bot
    from bots.options import api_options

    names = set(api_options()["xtts_models"])
    names.update(Bot.objects.exclude(xtts_model="").values_list("xtts_model", flat=True).distinct())
    return sorted(names)


def xtts_meta(model_name: str) -> VoiceMeta:
    """A known XTTS model's speakers and languages (loads it once per process, as a turn would)."""
    from audio.tts.registry import load_tts

    if model_name not in allowed_xtts_models():
        raise MetaError(f"Unknown XTTS model {model_name[:100]!r}; use one of: {', '.join(allowed_xtts_models())}")
    try:
        voice = load_tts(TtsSpec(vendor=TtsEngine.XTTS, model=model_name))
    except TtsError as exc:  # Coqui not installed, weights missing: the reference answered empty lists
        return VoiceMeta(TtsEngine.XTTS, model_name, available=False, detail=str(exc))
    return VoiceMeta(TtsEngine.XTTS, model_name, speakers=voice.speakers(), languages=voice.languages())


def openai_meta(voice: str = "") -> VoiceMeta:
    from bots.options import OPENAI_TTS_VOICES

    return VoiceMeta(TtsEngine.OPENAI, voice, speakers=list(OPENAI_TTS_VOICES))


def voice_meta(*, engine: str, voice: str = "", model_name: str = "") -> VoiceMeta:
    """By engine name (the reference's names too). Piper voices by name only, never by path."""
    engine = str(LEGACY_TTS_VENDORS.get(engine, engine))
    if engine == TtsEngine.PIPER:
        if "/" in voice or "\\" in voice or voice.startswith(".") or voice.endswith(".onnx"):
            raise MetaError("voice: a Piper voice name (like en_US-joe-medium), not a path")
        return piper_meta(voice)
    if engine == TtsEngine.XTTS:
        from bots.models import DEFAULT_XTTS_MODEL

        return xtts_meta(model_name or DEFAULT_XTTS_MODEL)
    if engine == TtsEngine.OPENAI:
        return openai_meta(voice)
    raise MetaError(f"Unknown TTS engine {engine[:40]!r}; use one of: {', '.join(TtsEngine.values)}")


def voice_meta_for_bot(bot: Bot) -> VoiceMeta:
    """The meta of the voice the bot is set to (its stored Piper voice may be a local path)."""
    engine = str(LEGACY_TTS_VENDORS.get(bot.tts_vendor, bot.tts_vendor))
    if engine == TtsEngine.PIPER:
        return piper_meta(bot.tts_voice)
    if engine == TtsEngine.XTTS:
        return xtts_meta(bot.xtts_model)
    return openai_meta(bot.openai_tts_voice)
