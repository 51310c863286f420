"""The ASR interface every engine implements: 16 kHz float32 mono in, text out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings

from conversations.session import UserFacingError


class AsrError(UserFacingError, RuntimeError):
    """A model could not be found, loaded or run; the message says what to do."""

    code = "voice"


@dataclass(frozen=True)
class AsrSpec:
    """Which model to use: the registry key for cached instances."""

    engine: str  # faster_whisper | whisper
    model: str  # size name (tiny, base, small, …) or a local file/directory
    device: str = "auto"  # auto | cpu | cuda | mps


@dataclass(frozen=True)
class TailConfidence:
    """How sure the decoder was about the end of a transcript (the turn detector's cue that a pause
    may be mid-sentence). `last_word`: mean probability of the last word's tokens (a word cut off or
    misheard at a pause scores low); `trail_off`: probability the decoder gave, right after that word,
    to trailing punctuation ("...", ",", a dash) instead of ending the sentence."""

    last_word: float
    trail_off: float


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str = ""
    tail: TailConfidence | None = None  # only when asked for (`tail=True`) and the engine can tell


class AsrModel(Protocol):
    spec: AsrSpec

    def transcribe(self, samples: np.ndarray, *, language: str | None, tail: bool = False) -> Transcription:
        """Blocking; thread-safe. `language` None means detect; `tail` asks for `TailConfidence`
        (engines that cannot tell leave it None)."""
        ...


def asr_language(language: str | None) -> str | None:
    """Bot language → Whisper language: "" and "auto" mean detect (the reference CLI passed "auto" on, a bug)."""
    value = (language or "").strip().lower()
    return None if value in ("", "auto") else value


def local_model_path(model: str) -> Path | None:
    """A model field that names an existing file or directory is used as-is."""
    if not model:
        return None
    path = Path(model).expanduser()
    return path if path.exists() else None


def download_root(engine: str) -> Path:
    root = Path(settings.VOICEBOT_MODELS_DIR) / engine
    root.mkdir(parents=True, exist_ok=True)
    return root
