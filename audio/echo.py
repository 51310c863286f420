"""Barge-in that the bot's own voice cannot trigger.

On laptop speakers the microphone hears the bot. Browsers cancel most of it (the mic test asks
`getUserMedia` for echoCancellation/noiseSuppression/autoGainControl), but a server that listens
while it speaks (voicebot_run --barge-in, a phone line) must not take its own voice for the user's.

`EchoGuard` keeps the level envelope (20 ms frames) of what is played (`played`) and of what the mic
hears. For the first `learn_ms` of a reply it learns the echo path: the delay (0-400 ms) and gain
that best explain the mic envelope from the played one (least squares over the candidate delays);
a barge-in cannot happen in that window. After it, a mic frame is the user's when it is louder than
the predicted echo (gain x played level, at that delay) by `margin`, and `BargeIn` fires when most
frames of the last `window_ms` are (a person talks over the whole window; an echo residue does
not). Without playback every voiced frame counts. `text_is_echo` is the second check a transport
may add once it has a partial transcript: words that are mostly the words being spoken are the bot.

Times are seconds on one clock the caller keeps (the mic's sample clock in voicebot_run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

FRAME_S = 0.02
RATE = 16000
_WORD = re.compile(r"[a-z0-9']+")


def _levels(samples: np.ndarray, rate: int) -> np.ndarray:
    step = max(1, int(rate * FRAME_S))
    usable = samples[: len(samples) // step * step].astype(np.float64)
    return np.sqrt(np.mean(np.square(usable.reshape(-1, step)), axis=1)) if usable.size else np.zeros(0)


@dataclass
class EchoGuard:
    margin: float = 2.0  # a user frame is this many times louder than the predicted echo
    floor: float = 0.01  # quieter mic frames are silence
    max_delay_ms: int = 400
    learn_ms: int = 600
    _ref: dict[int, float] = field(default_factory=dict)  # frame index -> played level
    _mic: dict[int, float] = field(default_factory=dict)
    _start: int | None = None  # first frame of the current playback
    delay: int = 0  # frames
    gain: float = 1.0

    def played(self, samples: np.ndarray, rate: int, at: float) -> None:
        """`samples` (float32 mono at `rate`) start playing at `at` seconds."""
        first = round(at / FRAME_S)
        if self._start is None or first > max(self._ref, default=first) + 1:
            self._start = first  # a new reply: learn its echo path again
            self.delay, self.gain = 0, 1.0
        for offset, level in enumerate(_levels(samples, rate)):
            self._ref[first + offset] = float(level)

    def _learning(self, frame: int) -> bool:
        return self._start is not None and frame < self._start + self.learn_ms / 1000 / FRAME_S

    def _learn(self) -> None:
        frames = sorted(f for f in self._mic if self._start is not None and f >= self._start)
        mic = np.array([self._mic[f] for f in frames])
        best = None
        for delay in range(int(self.max_delay_ms / 1000 / FRAME_S) + 1):
            ref = np.array([self._ref.get(f - delay, 0.0) for f in frames])
            power = float(ref @ ref)
            if power <= 1e-9:
                continue
            gain = float(mic @ ref) / power
            error = float(np.sum((mic - gain * ref) ** 2))
            if best is None or error < best[0]:
                best = (error, delay, gain)
        if best is not None:
            _, self.delay, self.gain = best
            self.gain = max(self.gain, 0.0)

    def is_user(self, samples: np.ndarray, at: float) -> bool:
        """A 16 kHz mic frame starting at `at` is (louder than) the echo of the playback."""
        frame = round(at / FRAME_S)
        level = float(_levels(samples, RATE).mean()) if samples.size >= RATE * FRAME_S else 0.0
        self._mic[frame] = level
        if level < self.floor:
            return False
        if self._learning(frame):
            if frame == self._start + int(self.learn_ms / 1000 / FRAME_S) - 1:
                self._learn()
            return False
        # the loudest played level within +-2 frames of the learned delay: the delay is learned on
        # 20 ms envelopes, so an onset can land a frame or two either side of it
        echo = self.gain * max(self._ref.get(frame - self.delay + k, 0.0) for k in range(-2, 3))
        return level > self.margin * echo

    def clear(self) -> None:
        """Playback stopped (barge-in, end of reply)."""
        self._ref.clear()
        self._mic.clear()
        self._start = None


@dataclass
class BargeIn:
    """`feed(frame, at)` is True once most frames of the last `window_ms` are the user's."""

    guard: EchoGuard = field(default_factory=EchoGuard)
    window_ms: int = 300
    share: float = 0.6
    _recent: list[bool] = field(default_factory=list)

    def feed(self, samples: np.ndarray, at: float) -> bool:
        self._recent.append(self.guard.is_user(samples, at))
        size = max(1, int(self.window_ms / 1000 / FRAME_S))
        del self._recent[:-size]
        return len(self._recent) == size and sum(self._recent) >= self.share * size

    def reset(self) -> None:
        self._recent.clear()


def text_is_echo(heard: str, speaking: str, *, overlap: float = 0.6) -> bool:
    """Most words of `heard` (an ASR partial) are words of `speaking` (the text being played)."""
    heard_words = _WORD.findall(heard.lower())
    if not heard_words:
        return True
    spoken = set(_WORD.findall(speaking.lower()))
    return sum(word in spoken for word in heard_words) / len(heard_words) >= overlap
