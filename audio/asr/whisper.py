"""openai-whisper (PyTorch): the reference's ASR.

The model field is a size name (its checkpoint must be at VOICEBOT_MODELS_DIR/whisper/<name>.pt: a
turn never downloads) or a local `.pt` checkpoint, which `whisper.load_model` reads as-is. Device `auto` picks cuda, then mps, then cpu.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from audio.asr.base import AsrError, AsrSpec, Transcription, download_root, local_model_path

logger = logging.getLogger(__name__)


def _device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


class OpenAIWhisperModel:
    def __init__(self, spec: AsrSpec) -> None:
        try:
            import whisper
        except ImportError as exc:  # pragma: no cover - listed in requirements-voice.txt
            raise AsrError("openai-whisper is not installed: pip install -r requirements-voice.txt") from exc
        self.spec = spec
        self.device = _device(spec.device)
        local = local_model_path(spec.model)
        if local is None and spec.model not in whisper.available_models():
            raise AsrError(
                f"Unknown Whisper model {spec.model!r}: use one of {', '.join(whisper.available_models())} "
                "or the path of a checkpoint file"
            )
        checkpoint = download_root("whisper") / f"{spec.model}.pt"
        if local is None and not checkpoint.is_file():  # never a download in the middle of a turn
            raise AsrError(
                f"openai-whisper model {spec.model!r} is not installed: put its checkpoint at {checkpoint}, "
                f"or use the faster_whisper engine (`manage.py voicebot_models pull {spec.model}` downloads it)."
            )
        try:
            self._model = whisper.load_model(
                str(local) if local else spec.model,
                device=self.device,
                download_root=str(download_root("whisper")),
            )
        except Exception as exc:  # the library's text goes to the log, the user gets what to do
            logger.warning("openai-whisper could not load %s: %r", spec.model, exc)
            raise AsrError(
                f"Could not load Whisper model {spec.model!r}: the checkpoint is damaged or incomplete."
            ) from exc
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, *, language: str | None, tail: bool = False) -> Transcription:
        if samples.size == 0:
            return Transcription(text="", language=language or "")
        with self._lock:  # a torch module is not safe to run from two threads at once
            result = self._model.transcribe(
                np.asarray(samples, dtype=np.float32),
                language=language,
                task="transcribe",
                temperature=0.0,
                fp16=self.device == "cuda",
                verbose=None,
                condition_on_previous_text=False,
            )
        return Transcription(text=str(result.get("text", "")).strip(), language=str(result.get("language") or ""))
