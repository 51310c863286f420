"""Coqui XTTS v2 (`coqui-tts`): multilingual voice cloning from a speaker WAV, GPU when present.

Optional (requirements-xtts.txt): it pulls in a large dependency tree and its multi-GB weights
download on first use (and need the Coqui licence acceptance, COQUI_TOS_AGREED=1), so it is neither
installed by default nor testable offline. Imported lazily; a clear TtsError when missing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from django.conf import settings

from audio.tts.base import TtsError, TtsSpec


def _torch_device() -> str:
    import torch

    if not settings.VOICEBOT_TTS_USE_GPU:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def load_coqui(model_name: str):
    """The Coqui TTS object for a model name (or raise TtsError saying how to install it)."""
    try:
        from TTS.api import TTS
    except ImportError as exc:
        raise TtsError("Coqui TTS is not installed: pip install -r requirements-xtts.txt (see docs/voice.md)") from exc
    try:
        model = TTS(model_name, progress_bar=False)
    except Exception as exc:
        raise TtsError(f"Could not load Coqui model {model_name!r}: {exc}") from exc
    device = _torch_device()
    if device != "cpu":
        try:
            model = model.to(device)
        except Exception:  # a GPU that cannot take the model: stay on CPU
            model = model.to("cpu")
    return model


class XttsTts:
    def __init__(self, spec: TtsSpec) -> None:
        self.spec = spec
        if spec.speaker_wav and not Path(spec.speaker_wav).is_file():
            raise TtsError(f"XTTS speaker WAV {spec.speaker_wav} does not exist")
        self._tts = load_coqui(spec.model)
        speakers = list(getattr(self._tts, "speakers", None) or [])
        self._speaker = spec.speaker_id or (None if spec.speaker_wav else (speakers[0] if speakers else None))
        if not self._speaker and not spec.speaker_wav:
            raise TtsError("XTTS needs a speaker_wav (voice sample) or a speaker_id; this model exposes no speakers")
        synthesizer = getattr(self._tts, "synthesizer", None)
        self.sample_rate = int(getattr(synthesizer, "output_sample_rate", 24000) or 24000)
        self._lock = threading.Lock()

    def speakers(self) -> list[str]:
        return list(getattr(self._tts, "speakers", None) or [])

    def languages(self) -> list[str]:
        return list(getattr(self._tts, "languages", None) or [])

    def synthesize(self, text: str) -> np.ndarray:
        language = None if self.spec.language in ("", "auto") else self.spec.language
        with self._lock:  # one synthesis at a time per model (GPU memory)
            audio = self._tts.tts(
                text=text,
                speaker=self._speaker,
                speaker_wav=self.spec.speaker_wav or None,
                language=language,
                split_sentences=self.spec.split_sentences,
            )
        return np.asarray(audio, dtype=np.float32)
