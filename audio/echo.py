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

Times are seconds on one clock the caller keeps: the mic's sample clock. `BargeInListener` keeps it
for a transport (voicebot_run --barge-in, the phone line): it cuts the mic's 16 kHz PCM16 into 20 ms
frames at their sample times and places what is played on the same clock.
"""

from __future__ import annotations

import re
from collections import deque
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
    _learned: bool = False
    delay: int = 0  # frames
    gain: float = 1.0

    def played(self, samples: np.ndarray, rate: int, at: float) -> None:
        """`samples` (float32 mono at `rate`) start playing at `at` seconds."""
        first = round(at / FRAME_S)
        # a chunk that follows the last one is not frame-aligned: its partial last frame has no level
        # and the start rounds, so up to two frames between them are still the same reply
        if self._start is None or first > max(self._ref, default=first) + 2:
            self._start = first  # a new reply (after a gap of over 40 ms): learn its echo path again
            self.delay, self.gain, self._learned = 0, 1.0, False
        for offset, level in enumerate(_levels(samples, rate)):
            self._ref[first + offset] = float(level)

    @property
    def learn_frames(self) -> int:
        return int(self.learn_ms / 1000 / FRAME_S)

    def _learning(self, frame: int) -> bool:
        return self._start is not None and frame < self._start + self.learn_frames

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
        learning = self._learning(frame)
        # learn at the window's last frame, or the first one after it, however quiet: a mic that
        # hears no echo at all learns a gain of 0 (so the user's voice is not held to 1 x played)
        if self._start is not None and not self._learned and frame >= self._start + self.learn_frames - 1:
            self._learn()
            self._learned = True
        if level < self.floor or learning:
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
        self._learned = False


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


class BargeInListener:
    """A transport that listens while it speaks: the mic's sample clock, what is played on it, BargeIn.

    `hear(pcm, listen=...)` takes the mic's 16 kHz PCM16 in pieces of any length and advances the
    clock; with `listen` (the bot is speaking) its 20 ms frames go through `BargeIn` and the pieces are
    kept as a pre-roll (`preroll_ms`), so the speech that set off a barge-in can go to the VAD
    afterwards. `played(samples, rate, at)` puts played audio on the mic clock (by default now, or
    right after what was played before). `echoing`: played audio, or its echo, may still reach the mic.
    """

    def __init__(self, detector: BargeIn | None = None, *, preroll_ms: int = 600) -> None:
        self.detector = detector or BargeIn()
        self.heard = 0  # mic samples cut into frames so far
        self.played_until: float | None = None  # end of the played audio, on the mic clock
        self._rest = np.zeros(0, dtype=np.float32)
        self._preroll_s = preroll_ms / 1000
        self._preroll: deque[bytes] = deque()
        self._preroll_bytes = 0

    @property
    def now(self) -> float:
        """Seconds of mic audio heard so far: the clock."""
        return (self.heard + self._rest.size) / RATE

    def played(self, samples: np.ndarray, rate: int, at: float | None = None) -> float:
        """`samples` start playing at `at` (mic clock); returns where they were placed."""
        start = max(self.now if at is None else at, self.played_until or 0.0)
        self.detector.guard.played(samples, rate, start)
        self.played_until = start + len(samples) / rate
        return start

    @property
    def echoing(self) -> bool:
        """Played audio may still reach the mic: until its end plus the learned delay and 3 frames."""
        if self.played_until is None:
            return False
        return self.now < self.played_until + (self.detector.guard.delay + 3) * FRAME_S

    def hear(self, pcm: bytes, *, listen: bool) -> bool:
        """Advance the clock over `pcm`; when `listen`, True once BargeIn fires on its frames."""
        samples = np.concatenate([self._rest, np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0])
        step = int(RATE * FRAME_S)
        usable = samples.size // step * step
        fired = False
        if listen:
            self._preroll.append(pcm)
            self._preroll_bytes += len(pcm)
            while self._preroll_bytes / 2 / RATE > self._preroll_s and len(self._preroll) > 1:
                self._preroll_bytes -= len(self._preroll.popleft())
            for i in range(0, usable, step):
                fired = self.detector.feed(samples[i : i + step], at=(self.heard + i) / RATE) or fired
        self.heard += usable
        self._rest = samples[usable:]
        return fired

    def take_preroll(self) -> bytes:
        """The mic audio of the last `preroll_ms` heard while listening (then forgotten)."""
        pcm = b"".join(self._preroll)
        self._preroll.clear()
        self._preroll_bytes = 0
        return pcm

    def clear(self) -> None:
        """Playback over (barge-in, or the reply and its echo ended): the next reply is learned anew."""
        self.detector.guard.clear()
        self.detector.reset()
        self.played_until = None
        self._preroll.clear()
        self._preroll_bytes = 0


def text_is_echo(heard: str, speaking: str, *, overlap: float = 0.6) -> bool:
    """Most words of `heard` (an ASR partial) are words of `speaking` (the text being played)."""
    heard_words = _WORD.findall(heard.lower())
    if not heard_words:
        return True
    spoken = set(_WORD.findall(speaking.lower()))
    return sum(word in spoken for word in heard_words) / len(heard_words) >= overlap
