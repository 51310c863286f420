"""Voice activity detection: cuts a PCM16 stream into utterances (webrtcvad, the reference's rules).

Used by the local mic loop and, optionally, by the Studio talk socket (`vad: true`) so a turn ends
without a `stop` message. The parameters are the reference's (§9.3): aggressiveness 2, 30 ms frames,
an utterance ends after 800 ms of trailing silence or at 15 s, and is kept only when it lasted at
least 250 ms (silence included, as in the reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @classmethod
    def from_settings(cls) -> VadParams:
        return cls(
            aggressiveness=settings.VOICEBOT_VAD_AGGRESSIVENESS,
            silence_ms=settings.VOICEBOT_VAD_SILENCE_MS,
            min_speech_ms=settings.VOICEBOT_VAD_MIN_SPEECH_MS,
            max_speech_ms=settings.VOICEBOT_VAD_MAX_SPEECH_MS,
        )

    @property
    def frame_bytes(self) -> int:
        return self.sample_rate * self.frame_ms // 1000 * 2


@dataclass(frozen=True)
class SpeechStarted:
    """The first speech frame of an utterance (barge-in uses this)."""


@dataclass(frozen=True)
class Utterance:
    pcm: bytes  # PCM16 mono at params.sample_rate, from the first speech frame to the end
    speech_ms: int


VadEvent = SpeechStarted | Utterance


@dataclass
class VadSegmenter:
    """Feed PCM16 bytes of any length; get SpeechStarted/Utterance events back."""

    params: VadParams = field(default_factory=VadParams)

    def __post_init__(self) -> None:
        if self.params.frame_ms not in (10, 20, 30):
            raise ValueError("webrtcvad frames must be 10, 20 or 30 ms")
        self._vad = webrtcvad.Vad(self.params.aggressiveness)
        self._pending = bytearray()
        self._speech = bytearray()
        self._in_speech = False
        self._silence_ms = 0
        self._speech_ms = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

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
        return []

    def _finish(self) -> list[VadEvent]:
        pcm, speech_ms = bytes(self._speech), self._speech_ms
        self._speech.clear()
        self._in_speech = False
        self._silence_ms = self._speech_ms = 0
        if speech_ms < self.params.min_speech_ms:
            return []
        return [Utterance(pcm=pcm, speech_ms=speech_ms)]
