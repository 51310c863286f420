"""faster-whisper (CTranslate2): the default ASR, several times faster than openai-whisper on CPU.

The model field is a size name (downloaded once into VOICEBOT_MODELS_DIR/faster_whisper from the
Hugging Face hub, on a machine with internet) or a local CTranslate2 model directory.
"""

from __future__ import annotations

import threading

import numpy as np
from django.conf import settings

from audio.asr.base import AsrError, AsrSpec, Transcription, download_root, local_model_path


def _device(requested: str) -> str:
    if requested in ("cpu", "cuda"):
        return requested
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # no CUDA runtime at all
        return "cpu"


class FasterWhisperModel:
    def __init__(self, spec: AsrSpec) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - listed in requirements-voice.txt
            raise AsrError("faster-whisper is not installed: pip install -r requirements-voice.txt") from exc
        self.spec = spec
        device = _device(spec.device)  # CTranslate2 has no MPS backend: mps falls back to cpu
        compute_type = "float16" if device == "cuda" else "int8"
        local = local_model_path(spec.model)
        try:
            self._model = WhisperModel(
                str(local) if local else spec.model,
                device=device,
                compute_type=compute_type,
                cpu_threads=settings.VOICEBOT_ASR_CPU_THREADS,
                download_root=None if local else str(download_root("faster_whisper")),
            )
        except Exception as exc:
            where = "the local path" if local else "the size name (downloaded on first use; needs internet once)"
            raise AsrError(f"Could not load faster-whisper model {spec.model!r} from {where}: {exc}") from exc
        self.device = device
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, *, language: str | None) -> Transcription:
        if samples.size == 0:
            return Transcription(text="", language=language or "")
        with self._lock:  # one decode at a time per model: bounded memory, predictable latency
            segments, info = self._model.transcribe(
                np.asarray(samples, dtype=np.float32),
                language=language,
                task="transcribe",
                beam_size=settings.VOICEBOT_ASR_BEAM_SIZE,
                temperature=0.0,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcription(text=text, language=info.language or (language or ""))
