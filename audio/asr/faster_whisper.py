"""faster-whisper (CTranslate2): the default ASR, several times faster than openai-whisper on CPU.

The model field is a size name (pulled on purpose into VOICEBOT_MODELS_DIR/faster_whisper by
`manage.py voicebot_models` or the bot page: `audio.model_store`; a turn never downloads, a missing
model is a clear AsrError) or a local CTranslate2 model directory.

**Short windows.** Whisper pads every call to a 30 s window, and encoding that window is most of the
cost of a short utterance (tiny.en on this 2-core CPU: ~270 ms idle, 600-800 ms under load, for 3 s
of speech). CTranslate2 accepts shorter mel inputs, so an utterance of up to ~28 s is encoded in a
window of max(VOICEBOT_ASR_WINDOW_S, its length + 1 s) (10 s by default: ~8x less encoder work) and
decoded without timestamps, the output length bounded by the audio length. Whisper was trained on 30 s
windows and a very short one can make it loop ("Yes? Yes? Yes?"): 10 s was word-for-word the same as
30 s on our test utterances, and any output that repeats itself (zlib compression ratio > 2.4, or
the length bound hit) is decoded again the usual way. VOICEBOT_ASR_WINDOW_S=30 turns this off.
"""

from __future__ import annotations

import logging
import threading
import zlib

import numpy as np
from django.conf import settings

from audio import model_store
from audio.asr.base import AsrError, AsrSpec, TailConfidence, Transcription, local_model_path

logger = logging.getLogger(__name__)


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
        name = spec.model or model_store.PACKAGED_ASR
        local = local_model_path(name)
        path = local or model_store.asr_model_path(name)  # a name is only loaded from disk, never downloaded
        if path is None:
            raise AsrError(model_store.not_installed_message(name))
        try:
            self._model = WhisperModel(
                str(path), device=device, compute_type=compute_type, cpu_threads=settings.VOICEBOT_ASR_CPU_THREADS
            )
        except Exception as exc:  # the library's text goes to the log, the user gets what to do
            logger.warning("faster-whisper could not load %s: %r", path, exc)
            hint = (
                "" if local else f" Remove it and pull it again (`manage.py voicebot_models remove {name}`, then pull)."
            )
            raise AsrError(
                f"Could not load faster-whisper model {name!r}: {path} is not a complete CTranslate2 Whisper model.{hint}"
            ) from exc
        self.device = device
        self._lock = threading.Lock()
        self._tokenizers: dict[str, object] = {}
        self._trailing: dict[str, np.ndarray] = {}  # per language: `_trailing_token_ids`

    def transcribe(self, samples: np.ndarray, *, language: str | None, tail: bool = False) -> Transcription:
        if samples.size == 0:
            return Transcription(text="", language=language or "")
        samples = np.asarray(samples, dtype=np.float32)
        window_s = int(getattr(settings, "VOICEBOT_ASR_WINDOW_S", 10))
        if window_s < 30 and samples.size <= 28 * 16000:
            language = language or ("en" if not self._model.model.is_multilingual else None)
            if language is not None:
                decoded = self._transcribe_window(samples, language, window_s, tail)
                if decoded is not None:
                    return Transcription(text=decoded[0], language=language, tail=decoded[1])
        return self._transcribe_full(samples, language)

    def _tokenizer(self, language: str):
        from faster_whisper.tokenizer import Tokenizer

        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:
            multilingual = self._model.model.is_multilingual
            tokenizer = Tokenizer(
                self._model.hf_tokenizer, multilingual, task="transcribe", language=language if multilingual else "en"
            )
            self._tokenizers[language] = tokenizer
        return tokenizer

    def _transcribe_window(
        self, samples: np.ndarray, language: str, window_s: int, tail: bool = False
    ) -> tuple[str, TailConfidence | None] | None:
        """Encode only max(window_s, length + 1 s) of mel frames; None when the output looks like a loop.
        Greedy decoding with `tail` also returns the decoder's per-step distributions for `_tail`."""
        import ctranslate2

        extractor = self._model.feature_extractor
        frames = max(window_s * 100, samples.size // extractor.hop_length + 100)
        padded = np.zeros(frames * extractor.hop_length, dtype=np.float32)
        padded[: samples.size] = samples
        features = extractor(padded)[:, :frames]
        tokenizer = self._tokenizer(language)
        max_tokens = int(12 + 8 * samples.size / 16000)  # fast speech is ~4 tokens a second
        with self._lock:
            encoded = self._model.model.encode(
                ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
                to_cpu=self.device == "cpu",
            )
            result = self._model.model.generate(
                encoded,
                [list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]],
                beam_size=1 if tail else settings.VOICEBOT_ASR_BEAM_SIZE,
                max_length=max_tokens,
                suppress_blank=True,
                suppress_tokens=[-1],
                return_logits_vocab=tail,
            )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(tokens).strip()
        if len(result.sequences_ids[0]) >= max_tokens - 1 or _looks_repeated(text):
            return None
        if not tail:
            return text, None
        trailing = self._trailing.get(language)
        if trailing is None:
            trailing = self._trailing[language] = _trailing_token_ids(tokenizer)
        return text, _tail(tokenizer, result.sequences_ids[0], result.logits[0], trailing)

    def _transcribe_full(self, samples: np.ndarray, language: str | None) -> Transcription:
        with self._lock:  # one decode at a time per model: bounded memory, predictable latency
            segments, info = self._model.transcribe(
                samples,
                language=language,
                task="transcribe",
                beam_size=settings.VOICEBOT_ASR_BEAM_SIZE,
                temperature=0.0,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcription(text=text, language=info.language or (language or ""))


_TRAILING_PIECES = frozenset([",", "-", " -", "–", "—", " —", "..", "...", " ...", "…", " …"])


def _trailing_token_ids(tokenizer) -> np.ndarray:
    """Token ids that continue a sentence rather than end it: a comma, a dash, an ellipsis (each
    piece that is one token of this vocabulary)."""
    return np.asarray(sorted({ids[0] for piece in _TRAILING_PIECES if len(ids := tokenizer.encode(piece)) == 1}))


def _tail(tokenizer, ids: list[int], logits, trailing: np.ndarray) -> TailConfidence | None:
    """The last word's mean token probability and the trailing-punctuation probability right after
    it, from the greedy decoder's per-step logits (step i's logits chose ids[i])."""
    words: list[list[int]] = []  # indices into ids, grouped into words (a word starts with a space)
    for index, token in enumerate(ids):
        if token >= tokenizer.eot:
            break
        piece = tokenizer.decode([token])
        if any(ch.isalnum() for ch in piece):
            if piece.startswith(" ") or not words or not words[-1]:
                words.append([index])
            else:
                words[-1].append(index)
        elif words and words[-1]:
            words.append([])  # punctuation closes the word
    words = [word for word in words if word]
    if not words:
        return None

    def probabilities(step: int) -> np.ndarray:
        row = np.asarray(logits[step], dtype=np.float64)
        row = np.exp(row - row.max())
        return row / row.sum()

    last = words[-1]
    last_word = float(np.mean([probabilities(i)[ids[i]] for i in last]))
    after = last[-1] + 1
    trail_off = float(probabilities(after)[trailing].sum()) if after < len(logits) else 0.0
    return TailConfidence(last_word=last_word, trail_off=trail_off)


def _looks_repeated(text: str) -> bool:
    """Whisper's own loop test: highly compressible text is a repetition, not speech."""
    if len(text) < 24:
        return False
    data = text.encode()
    return len(data) / len(zlib.compress(data)) > 2.4
