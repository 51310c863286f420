"""Voice activity detection: cuts a PCM16 stream into utterances (webrtcvad, the reference's rules).

Used by the local mic loop, the phone line and, optionally, by the Studio talk socket (`vad: true`)
so a turn ends without a `stop` message. The parameters are the reference's (§9.3): aggressiveness 2,
30 ms frames, an utterance ends after 800 ms of trailing silence or at 15 s, and is kept only when it
lasted at least 250 ms (silence included, as in the reference).

Opt-in additions (defaults keep the behaviour and the events above unchanged):
- `pause_ms` > 0: a `Pause` event once per silence run when it reaches `pause_ms` (early ASR and the
  semantic end-of-turn check in `audio.turn_detector` start there); `end_utterance()` ends the
  utterance in progress at once (the turn detector calls it when a sentence is complete);
- `engine="silero"`: Silero VAD (MIT, the model `silero-vad` bundles, ONNX through its wrapper) decides
  speech instead of webrtcvad; it gives fewer false triggers in noise (docs/voice.md has the counts).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import webrtcvad
from django.conf import settings

from audio.pcm import ASR_SAMPLE_RATE


@dataclass(frozen=True)
class VadParams:
    aggressiveness: int = 2
    frame_ms: int = 30
    silence_ms: int = 800
    min_speech_ms: int = 250
    max_speech_ms: int = 15000
    sample_rate: int = ASR_SAMPLE_RATE
    pause_ms: int = 0  # > 0: emit Pause when a silence run reaches it
    engine: str = "webrtc"  # webrtc | silero
    silero_threshold: float = 0.5

    @classmethod
    def from_settings(cls, **overrides) -> VadParams:
        values = {
            "aggressiveness": settings.VOICEBOT_VAD_AGGRESSIVENESS,
            "silence_ms": settings.VOICEBOT_VAD_SILENCE_MS,
            "min_speech_ms": settings.VOICEBOT_VAD_MIN_SPEECH_MS,
            "max_speech_ms": settings.VOICEBOT_VAD_MAX_SPEECH_MS,
            "engine": getattr(settings, "VOICEBOT_VAD_ENGINE", "webrtc"),
        }
        return cls(**{**values, **overrides})

    @property
    def frame_bytes(self) -> int:
        return self.sample_rate * self.frame_ms // 1000 * 2


@dataclass(frozen=True)
class SpeechStarted:
    """The first speech frame of an utterance (barge-in uses this)."""


@dataclass(frozen=True)
class Pause:
    """A silence run inside an utterance reached `pause_ms` (only with pause_ms > 0)."""

    speech_ms: int  # utterance length so far, silence included
    silence_ms: int
    # The turn detector's transcript of the utterance up to this pause (None: it did not decode):
    # a speculative model call can start from it (talk socket, VOICEBOT_EARLY_REPLY).
    transcript: str | None = None


@dataclass(frozen=True)
class Utterance:
    pcm: bytes  # PCM16 mono at params.sample_rate, from the first speech frame to the end
    speech_ms: int
    # The turn detector's transcript of all of this audio's speech (decoded at the pause the turn
    # ended on, or at the last pause when only silence followed it): the turn uses it instead of
    # decoding the same audio again (None: transcribe as usual).
    transcript: str | None = None
    silence_ms: int = 0  # the silence at its end (speech_ms - silence_ms: where the last speech ended)


VadEvent = SpeechStarted | Pause | Utterance


class SileroFrames:
    """Silero VAD behind webrtcvad's `is_speech(frame, rate)`: 30 ms frames are regrouped into the
    512-sample windows the model takes (16 kHz); a frame is speech when the latest window is."""

    _model_lock = threading.Lock()
    _shared: object | None = None

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._carry = np.zeros(0, dtype=np.float32)
        self._last = 0.0
        self._model = self._load()

    @classmethod
    def _load(cls):
        try:
            from silero_vad import load_silero_vad
        except ImportError as exc:  # pragma: no cover - listed in requirements-voice.txt
            raise RuntimeError("silero-vad is not installed: pip install -r requirements-voice.txt") from exc
        with cls._model_lock:  # one load per process; each segmenter gets its own state (reset below)
            if cls._shared is None:
                cls._shared = load_silero_vad(onnx=True)
        import copy

        model = copy.copy(cls._shared)
        model.reset_states()
        return model

    def is_speech(self, frame: bytes, sample_rate: int) -> bool:
        import torch

        if sample_rate != 16000:
            raise ValueError("Silero frames here are 16 kHz")
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        self._carry = np.concatenate([self._carry, samples])
        while self._carry.size >= 512:
            window, self._carry = self._carry[:512], self._carry[512:]
            self._last = float(self._model(torch.from_numpy(window.copy()), 16000))
        return self._last >= self.threshold

    def reset(self) -> None:
        self._carry = np.zeros(0, dtype=np.float32)
        self._last = 0.0
        self._model.reset_states()


@dataclass
class VadSegmenter:
    """Feed PCM16 bytes of any length; get SpeechStarted/Utterance events back."""

    params: VadParams = field(default_factory=VadParams)

    def __post_init__(self) -> None:
        if self.params.frame_ms not in (10, 20, 30):
            raise ValueError("webrtcvad frames must be 10, 20 or 30 ms")
        if self.params.engine == "silero":
            self._vad = SileroFrames(self.params.silero_threshold)
        elif self.params.engine == "webrtc":
            self._vad = webrtcvad.Vad(self.params.aggressiveness)
        else:
            raise ValueError(f"Unknown VAD engine {self.params.engine!r}: use webrtc or silero")
        self._pending = bytearray()
        self._speech = bytearray()
        self._in_speech = False
        self._silence_ms = 0
        self._speech_ms = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def silence_ms(self) -> int:
        """Trailing silence of the utterance in progress."""
        return self._silence_ms

    def current_pcm(self) -> bytes:
        """The utterance in progress so far (empty between utterances)."""
        return bytes(self._speech)

    def end_utterance(self) -> list[VadEvent]:
        """End the utterance in progress now (the turn detector decided it is complete)."""
        return self._finish() if self._in_speech else []

    def feed(self, pcm: bytes) -> list[VadEvent]:
        self._pending.extend(pcm)
        events: list[VadEvent] = []
        size = self.params.frame_bytes
        while len(self._pending) >= size:
            frame = bytes(self._pending[:size])
            del self._pending[:size]
            events.extend(self._frame(frame))
        return events

    def flush(self) -> list[VadEvent]:
        """End of stream: an utterance in progress ends here (if long enough)."""
        self._pending.clear()
        return self._finish() if self._in_speech else []

    def reset(self) -> None:
        self._pending.clear()
        self._speech.clear()
        self._in_speech = False
        self._silence_ms = self._speech_ms = 0
        if hasattr(self._vad, "reset"):
            self._vad.reset()

    def _frame(self, frame: bytes) -> list[VadEvent]:
        p = self.params
        voiced = self._vad.is_speech(frame, p.sample_rate)
        if not self._in_speech:
            if not voiced:
                return []
            self._in_speech = True
            self._speech.clear()
            self._silence_ms = self._speech_ms = 0
            self._speech.extend(frame)
            self._speech_ms = p.frame_ms
            return [SpeechStarted()]
        self._speech.extend(frame)
        self._speech_ms += p.frame_ms
        self._silence_ms = 0 if voiced else self._silence_ms + p.frame_ms
        if self._silence_ms >= p.silence_ms or self._speech_ms >= p.max_speech_ms:
            return self._finish()
        if p.pause_ms and self._silence_ms >= p.pause_ms and self._silence_ms - p.frame_ms < p.pause_ms:
            return [Pause(speech_ms=self._speech_ms, silence_ms=self._silence_ms)]
        return []

    def _finish(self) -> list[VadEvent]:
        pcm, speech_ms, silence_ms = bytes(self._speech), self._speech_ms, self._silence_ms
        self._speech.clear()
        self._in_speech = False
        self._silence_ms = self._speech_ms = 0
        if speech_ms < self.params.min_speech_ms:
            return []
        return [Utterance(pcm=pcm, speech_ms=speech_ms, silence_ms=silence_ms)]
