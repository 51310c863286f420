"""The speech engines a bot can choose: the one list of ASR and TTS engine names.

`Bot.asr_engine` / `Bot.tts_vendor` take their choices from here, `GET /api/options` lists them, and
`audio`'s registries map each name to its class (they check at import that they cover this list).
The reference's engine names are still accepted on input and mapped by the `LEGACY_*` tables.
"""

from __future__ import annotations

from django.db import models


class AsrEngine(models.TextChoices):
    FASTER_WHISPER = "faster_whisper", "faster-whisper (CTranslate2, fast on CPU)"
    WHISPER = "whisper", "openai-whisper"


class TtsEngine(models.TextChoices):
    PIPER = "piper", "Piper (fast on CPU)"
    XTTS = "xtts", "Coqui XTTS v2 (voice cloning)"
    OPENAI = "openai", "OpenAI TTS"


# The reference's engine names (old clients, imported data) → this build's names.
LEGACY_TTS_VENDORS: dict[str, str] = {"xtts_local": TtsEngine.XTTS, "openai_tts": TtsEngine.OPENAI}
LEGACY_ASR_ENGINES: dict[str, str] = {"whisper_local": AsrEngine.WHISPER}


def tts_vendor_as_sent(sent: object, stored: str) -> str:
    """What a bot response says for `tts_vendor`: the reference's spelling when the client sent it
    (`xtts_local`, `openai_tts`) for the engine now stored, so an old client reads back its own value;
    otherwise the stored name."""
    if isinstance(sent, str) and LEGACY_TTS_VENDORS.get(sent.strip()) == stored:
        return sent.strip()
    return stored
