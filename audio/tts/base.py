"""The TTS interface every engine implements: text in, float32 mono audio at the voice's real rate out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from conversations.session import UserFacingError


class TtsError(UserFacingError, RuntimeError):
    """A voice could not be found, loaded or run; the message says what to do."""

    code = "voice"


@dataclass(frozen=True)
class TtsSpec:
    """Everything that selects a voice; the registry key for cached instances.

    The OpenAI key is part of the key so two bots with different keys never share a client; it lives
    only in this process's memory (never logged: repr hides it)."""

    vendor: str  # piper | xtts | openai
    voice: str = ""  # piper: name or .onnx path; openai: voice name
    model: str = ""  # xtts: model name; openai: tts model
    language: str = "en"
    speaker_wav: str = ""
    speaker_id: str = ""
    speed: float = 1.0
    split_sentences: bool = False
    api_key: str = ""
    base_url: str = ""

    def __repr__(self) -> str:
        return f"TtsSpec(vendor={self.vendor!r}, voice={self.voice!r}, model={self.model!r})"


class TtsVoice(Protocol):
    spec: TtsSpec
    sample_rate: int

    def synthesize(self, text: str) -> np.ndarray:
        """Blocking; thread-safe. float32 mono in [-1, 1] at `sample_rate`."""
        ...
