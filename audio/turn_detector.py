"""Semantic end of turn: VAD says "silence", Smart Turn says whether the sentence is finished.

A fixed silence (the reference's 800 ms) is both too slow after a finished sentence and too quick
for a person who pauses mid-thought ("I'd like to book … a table for two"). `TurnSegmenter` keeps
the `VadSegmenter` interface (`feed`, `flush`, `reset`, `in_speech`; events `SpeechStarted`,
`Pause`, `Utterance`) so a transport swaps one for the other, and decides:

- at the first short silence (`complete_ms`, 200 ms) it asks Smart Turn v3.2 about the utterance so
  far; probability ≥ `threshold`: the turn ends now (`Utterance`);
- otherwise it waits: the turn ends at `max_silence_ms` (2 s) of silence, or when speech resumes and
  a later pause is judged complete.

With a `transcribe` function (the bot's ASR) every pause is also decoded, for the text cues and so
that the turn never decodes the same audio again: the `Pause` event carries the transcript (a
speculative model call may start from it), and the `Utterance` carries it when no speech followed
that pause, whether the turn ended at the pause or at the long silence after it.

Smart Turn v3.2 (Daily, BSD-2-Clause) is a Whisper-tiny encoder with a classifier head, exported to
ONNX (8.7 MB, CPU, ~10-30 ms a call here). Its input is the Whisper log-mel spectrogram (80 bins,
25 ms window, 10 ms hop) of the last 8 s of 16 kHz audio, zero-padded at the front, the waveform
normalised to zero mean and unit variance first; `smart_turn_features` computes it with numpy (the
same maths as Hugging Face's WhisperFeatureExtractor that Pipecat's `_whisper_features.py` mirrors).
The model file is installed by `scripts/fetch_smart_turn.py` into VOICEBOT_MODELS_DIR/smart_turn.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from audio.asr import AsrSpec, Transcription, transcribe_sync
from audio.pcm import ASR_SAMPLE_RATE
from audio.vad import Pause, SpeechStarted, Utterance, VadEvent, VadParams, VadSegmenter

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
WINDOW_S = 8
N_FFT, HOP, N_MELS = 400, 160, 80


class TurnModelMissing(RuntimeError):
    """The Smart Turn model file is not installed; the message says how to install it."""


def model_path() -> Path:
    configured = getattr(settings, "VOICEBOT_SMART_TURN_MODEL", "")
    return Path(configured) if configured else Path(settings.VOICEBOT_MODELS_DIR) / "smart_turn" / MODEL_FILE


# --- features --------------------------------------------------------------------------------------
def _hz_to_mel(freq: np.ndarray) -> np.ndarray:  # Slaney scale: linear below 1 kHz, log above
    freq = np.asarray(freq, dtype=np.float64)
    mels = 3.0 * freq / 200.0
    log_region = freq >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(freq, 1e-9) / 1000.0) * (27.0 / np.log(6.4)), mels)


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    freq = 200.0 * mels / 3.0
    return np.where(mels >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels - 15.0)), freq)


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    """(n_freqs, n_mels) Slaney-normalised triangular filters from 0 Hz to 8 kHz."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(ASR_SAMPLE_RATE / 2), N_MELS + 2))
    fft_freqs = np.linspace(0, ASR_SAMPLE_RATE // 2, N_FFT // 2 + 1)
    slopes = edges[None, :] - fft_freqs[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window


def smart_turn_features(samples: np.ndarray) -> np.ndarray:
    """(80, 800) float32 log-mel of the last 8 s of 16 kHz audio (front zero-padded)."""
    size = WINDOW_S * ASR_SAMPLE_RATE
    x = np.asarray(samples, dtype=np.float32)[-size:]
    if x.size < size:
        x = np.concatenate([np.zeros(size - x.size, dtype=np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _window(), axis=-1)) ** 2  # (n_frames, n_freqs)
    log_spec = np.log10(np.maximum(power @ _mel_filters(), 1e-10)).T[:, :-1]
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


# --- the model -------------------------------------------------------------------------------------
class SmartTurnModel:
    """The ONNX session; `probability(samples)` is the chance the speech so far is a finished turn."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise TurnModelMissing(
                f"Smart Turn model not found at {path}: run `python scripts/fetch_smart_turn.py` "
                "(make run / make test do), or set VOICEBOT_TURN_DETECTOR=silence"
            )
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def probability(self, samples: np.ndarray) -> float:
        features = smart_turn_features(samples)[None, :, :]
        with self._lock:
            output = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(output).reshape(-1)[0])


@lru_cache(maxsize=1)
def _judges() -> ThreadPoolExecutor:
    """Threads for Smart Turn calls that run beside a pause decode (the model serialises its own)."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="smart-turn")


_models: dict[Path, SmartTurnModel] = {}
_models_lock = threading.Lock()


def load_turn_model(path: Path | None = None) -> SmartTurnModel:
    """Blocking: the process's Smart Turn session, loaded once."""
    path = path or model_path()
    with _models_lock:
        if path not in _models:
            _models[path] = SmartTurnModel(path)
        return _models[path]


# --- text cues ------------------------------------------------------------------------------------
# Words a finished English sentence rarely ends on: articles, prepositions, conjunctions, possessives,
# auxiliaries and copulas ("My name is", "I need to change my", "a gift for").
DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "this",
        "that",
        "these",
        "those",
        "to",
        "of",
        "for",
        "with",
        "from",
        "at",
        "in",
        "on",
        "by",
        "about",
        "into",
        "onto",
        "as",
        "than",
        "and",
        "or",
        "but",
        "so",
        "because",
        "if",
        "when",
        "while",
        "although",
        "though",
        "whether",
        "which",
        "who",
        "whose",
        "where",
        "is",
        "are",
        "was",
        "were",
        "am",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "i'm",
        "i'd",
        "i'll",
        "we",
        "we're",
        "you",
        "you're",
        "he",
        "she",
        "they",
        "it's",
        "there's",
        "um",
        "uh",
        "er",
        "like",
        "just",
        "really",
        "very",
    ]
)
_TRAILING = re.compile(r"(\.\.\.|…|,|-|–|—)\s*$")
_WORD = re.compile(r"[a-z0-9']+")


# An unsure last word (cut off or misheard at the pause: "The thing is that" heard as "The thing is
# hot.") or a decoder that weighed trailing off ("I'd like to book" → "." but "..." close behind) is
# not a finished sentence to end the turn on: the segmenter waits for more speech or the long silence.
UNSURE_LAST_WORD = 0.5
TRAIL_OFF = 0.1


def transcript_incomplete(transcription: Transcription | str) -> bool:
    """`text_incomplete`, plus the ASR's own doubt about the end when the engine reports it."""
    if isinstance(transcription, str):
        return text_incomplete(transcription)
    tail = transcription.tail
    if tail is not None and (tail.last_word < UNSURE_LAST_WORD or tail.trail_off >= TRAIL_OFF):
        return True
    return text_incomplete(transcription.text)


def pause_transcriber(spec: AsrSpec, language: str | None) -> Callable[[np.ndarray], Transcription]:
    """The blocking transcribe function a transport hands the segmenter (it runs in the VAD's worker
    thread): the bot's ASR, asked for its confidence in the transcript's end."""
    return lambda samples: transcribe_sync(spec, samples, language, tail=True)


def text_incomplete(text: str) -> bool:
    """The transcript reads as cut off: it trails off (…, a comma, a dash) or ends on a word that
    needs a continuation. Whisper writes "My name is..." for a voice that stops mid-sentence."""
    stripped = text.strip()
    if not stripped:
        return True
    if _TRAILING.search(stripped):
        return True
    found = _WORD.findall(stripped.lower())
    return bool(found) and found[-1] in DANGLING


# --- the segmenter ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TurnParams:
    complete_ms: int = 200  # silence after which Smart Turn is asked
    max_silence_ms: int = 2000  # an unfinished sentence ends anyway after this much silence
    threshold: float = 0.5  # Smart Turn probability for "complete"; 0 leaves it to the text cues
    pre_speech_ms: int = 300  # audio before the first speech frame given to the model too
    use_model: bool = True  # ask Smart Turn (audio)

    @classmethod
    def from_settings(cls) -> TurnParams:
        return cls(
            complete_ms=getattr(settings, "VOICEBOT_TURN_COMPLETE_MS", 200),
            max_silence_ms=getattr(settings, "VOICEBOT_TURN_MAX_SILENCE_MS", 2000),
            threshold=getattr(settings, "VOICEBOT_TURN_THRESHOLD", 0.5),
        )


@dataclass(frozen=True)
class TurnDecision:
    """What Smart Turn said at a pause (for logs, metrics and the bench)."""

    probability: float
    complete: bool
    speech_ms: int
    text: str | None = None  # the pause transcript, when the segmenter has a transcribe function


@dataclass
class TurnSegmenter:
    """VadSegmenter's interface with a semantic end of turn (see the module docstring)."""

    vad_params: VadParams = field(default_factory=VadParams)
    params: TurnParams = field(default_factory=TurnParams)
    model: SmartTurnModel | None = None
    # Blocking: the pause's audio → its transcript, for the text cues (None: audio only).
    transcribe: Callable[[np.ndarray], Transcription | str] | None = None

    def __post_init__(self) -> None:
        if self.params.use_model:
            self.model = self.model or load_turn_model()
        self._vad = VadSegmenter(
            VadParams(
                **{
                    **self.vad_params.__dict__,
                    "silence_ms": self.params.max_silence_ms,
                    "pause_ms": self.params.complete_ms,
                }
            )
        )
        self._pending = bytearray()  # less than a VAD frame, waiting for the rest
        self._pre = bytearray()  # the last pre_speech_ms of audio before speech starts
        self._lead = b""
        self._paused: tuple[int, str | None] | None = None  # (where speech ended, transcript) at the last pause
        self.decisions: list[TurnDecision] = []

    @property
    def params_vad(self) -> VadParams:
        return self._vad.params

    @property
    def in_speech(self) -> bool:
        return self._vad.in_speech

    def current_pcm(self) -> bytes:
        return self._vad.current_pcm()

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Any length of PCM16; it is judged frame by frame, so a pause is decided on the audio up to
        that pause even when a long stretch arrives at once (a WAV, a slow client's burst)."""
        self._pending.extend(pcm)
        size = self._vad.params.frame_bytes
        events: list[VadEvent] = []
        while len(self._pending) >= size:
            frame = bytes(self._pending[:size])
            del self._pending[:size]
            events.extend(self._frame(frame))
        return events

    def _frame(self, frame: bytes) -> list[VadEvent]:
        events: list[VadEvent] = []
        for event in self._vad.feed(frame):
            if isinstance(event, SpeechStarted):
                self._lead = bytes(self._pre)
                self._paused = None
            elif isinstance(event, Pause):
                complete = self._complete(event)
                text = self.decisions[-1].text
                events.append(dataclasses.replace(event, transcript=text))
                if complete:
                    events.extend(self._covered(ended) for ended in self._vad.end_utterance())
                continue
            elif isinstance(event, Utterance):  # the long silence (or the length limit) ended it
                event = self._covered(event)
            events.append(event)
        if not self._vad.in_speech:
            keep = self.params.pre_speech_ms * ASR_SAMPLE_RATE // 1000 * 2
            self._pre.extend(frame)
            del self._pre[: max(0, len(self._pre) - keep)]
        else:
            self._pre.clear()
        return events

    def _covered(self, event: VadEvent) -> VadEvent:
        """An utterance carries the last pause's transcript when no speech came after that pause
        (the turn ended there, or at the long silence that followed it)."""
        paused, self._paused = self._paused, None
        if not isinstance(event, Utterance) or paused is None or paused[1] is None:
            return event
        if event.speech_ms - event.silence_ms != paused[0]:
            return event  # speech went on after the pause (the length limit cut it)
        return dataclasses.replace(event, transcript=paused[1])

    def _complete(self, pause: Pause) -> bool:
        pcm = self._lead + self._vad.current_pcm()
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        text = None
        if self.transcribe is not None:
            # Decoded at every pause, not only when Smart Turn says "complete": a turn that then
            # ends at the long silence starts on this transcript instead of decoding after 2 s.
            # Smart Turn runs beside the decode (the decision waits for the slower of the two).
            judged = _judges().submit(self.model.probability, samples) if self.model is not None else None
            transcription = self.transcribe(samples)
            probability = judged.result() if judged is not None else 1.0
            text = transcription if isinstance(transcription, str) else transcription.text
            complete = probability >= self.params.threshold and not transcript_incomplete(transcription)
        else:
            probability = self.model.probability(samples) if self.model is not None else 1.0
            complete = probability >= self.params.threshold
        self._paused = (pause.speech_ms - pause.silence_ms, text)
        self.decisions.append(TurnDecision(probability, complete, pause.speech_ms, text))
        return complete

    def flush(self) -> list[VadEvent]:
        self._pending.clear()
        return [self._covered(event) for event in self._vad.flush()]

    def reset(self) -> None:
        self._vad.reset()
        self._pending.clear()
        self._pre.clear()
        self._lead = b""
        self._paused = None

    @property
    def transcribes_pauses(self) -> bool:
        """Every pause is decoded here (a transport's own pause decode would repeat it)."""
        return self.transcribe is not None


def segmenter_from_settings(
    transcribe: Callable[[np.ndarray], Transcription | str] | None = None, **vad_overrides
) -> VadSegmenter | TurnSegmenter:
    """The hands-free segmenter the settings choose: `smart_turn` (default; `transcribe` adds the
    transcript cues) or the fixed `silence` (VOICEBOT_VAD_SILENCE_MS)."""
    vad_params = VadParams.from_settings(**vad_overrides)
    if getattr(settings, "VOICEBOT_TURN_DETECTOR", "smart_turn") == "smart_turn":
        return TurnSegmenter(vad_params, TurnParams.from_settings(), transcribe=transcribe)
    return VadSegmenter(vad_params)


__all__ = [
    "SmartTurnModel",
    "TurnDecision",
    "TurnModelMissing",
    "TurnParams",
    "TurnSegmenter",
    "Utterance",
    "load_turn_model",
    "pause_transcriber",
    "segmenter_from_settings",
    "smart_turn_features",
    "transcript_incomplete",
]
