"""Transcribe while the user speaks, so the end of speech costs (almost) no ASR at all.

`StreamingTranscriber` takes the utterance's 16 kHz PCM16 as it arrives (`push`) and decodes it in
the background, one decode at a time (the model serialises its calls anyway):

- **partials**: every `partial_interval_ms` of new speech the audio so far is decoded again and
  `on_partial(text, stable)` is called; `stable` is the prefix two successive decodes agree on
  (LocalAgreement-2), the rest may still change. Transports send them as `asr_partial` events.
- **pause decode**: at the first short silence (`pause_ms`, 200 ms; webrtcvad frames) the audio so
  far is decoded at once and `on_pause(text)` is called: the turn detector and the speculative model
  call start from it. If the user goes on, it is simply superseded.
- **adopt** (`await adopt(text)`): the hands-free turn detector decodes every pause itself
  (`audio.turn_detector`), so the transport turns pause decodes off here and hands its transcript
  over when the turn ends: one decode per pause, not two.
- **final** (`await final()`, at `stop` or when the turn detector ends the turn): when a finished or
  running decode already covers the last voiced frame (nothing but silence came after the audio it
  decoded), its text is the transcript and no decode is needed; otherwise only what is not covered
  is decoded.
- **commit at pauses**: when a pause decode covers more than `commit_s` of audio, its text is
  committed and later decodes start after it, so a long utterance never re-decodes its beginning and
  after the end of speech only the tail is decoded.

Each decode is one `audio.asr` call (faster-whisper encodes a short window; see its module).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import webrtcvad

from audio import asr
from audio.pcm import ASR_SAMPLE_RATE, pcm16_to_float32

logger = logging.getLogger(__name__)
FRAME_BYTES = ASR_SAMPLE_RATE * 30 // 1000 * 2  # 30 ms webrtcvad frames
LEAD_BYTES = FRAME_BYTES * 17  # ~0.5 s of audio kept before the first speech
Callback = Callable[..., Awaitable[None] | None]


@dataclass(frozen=True)
class FinalTranscript:
    text: str
    asr_ms: int  # from `final()` being called to the text being known (0 when a pause decode had it)
    reused: bool  # a decode made before the end of speech covered everything
    decodes: int  # decodes run for this utterance (partials included)
    decode_ms: int  # wall time of the decode that gave the final text


def common_prefix(a: list[str], b: list[str]) -> list[str]:
    out = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        out.append(x)
    return out


@dataclass
class _Decode:
    start: int  # sample index the decode started at (the committed point)
    end: int  # samples of audio it saw
    task: asyncio.Task
    pause: bool
    started_at: float
    text: str | None = None
    ms: int = 0


class StreamingTranscriber:
    def __init__(
        self,
        spec: asr.AsrSpec,
        language: str | None,
        *,
        partial_interval_ms: int = 500,
        pause_ms: int = 200,
        commit_s: float = 8.0,
        on_partial: Callback | None = None,
        on_pause: Callback | None = None,
        vad_aggressiveness: int = 2,
        pause_decodes: bool = True,
    ) -> None:
        self.spec = spec
        self.language = language
        self.partial_interval = partial_interval_ms * ASR_SAMPLE_RATE // 1000
        self.pause_frames = max(1, pause_ms // 30)
        self.commit_samples = int(commit_s * ASR_SAMPLE_RATE)
        self.on_partial = on_partial
        self.on_pause = on_pause
        # Off when the transport's turn detector decodes every pause itself (hands-free talk socket):
        # its transcript is handed over through `adopt` instead of decoding the same audio twice.
        self.pause_decodes = pause_decodes
        self._vad = webrtcvad.Vad(vad_aggressiveness)
        self._pcm = bytearray()
        self._vad_pos = 0  # bytes classified so far
        self._voiced_end = 0  # sample index after the last voiced frame
        self._silent_frames = 0
        self._heard = False
        self._paused_at = -1  # voiced_end a pause decode was started for
        self._committed_text: list[str] = []
        self._committed_at = 0
        self._last_decode_end = 0
        self._previous_words: list[str] = []
        self._current: _Decode | None = None
        self._best: _Decode | None = None  # the finished decode that saw the most audio
        self._closed = False
        self.decodes = 0
        self.partials: list[str] = []

    # --- input -----------------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        return len(self._pcm) // 2

    def push(self, pcm: bytes) -> None:
        """Add 16 kHz PCM16 (any length); may start a decode (needs a running event loop)."""
        if self._closed:
            return
        self._pcm.extend(pcm)
        if not self._heard and self._vad_pos > LEAD_BYTES + FRAME_BYTES:
            drop = (self._vad_pos - LEAD_BYTES) // FRAME_BYTES * FRAME_BYTES  # waiting in silence: keep 0.5 s
            del self._pcm[:drop]
            self._vad_pos -= drop
        while self._vad_pos + FRAME_BYTES <= len(self._pcm):
            frame = bytes(self._pcm[self._vad_pos : self._vad_pos + FRAME_BYTES])
            self._vad_pos += FRAME_BYTES
            if self._vad.is_speech(frame, ASR_SAMPLE_RATE):
                self._heard = True
                self._voiced_end = self._vad_pos // 2
                self._silent_frames = 0
            else:
                self._silent_frames += 1
        self._schedule()

    def _schedule(self) -> None:
        if self._current is not None or self._closed or not self._heard:
            return
        now = self.samples
        if self.pause_decodes and self._silent_frames >= self.pause_frames and self._paused_at != self._voiced_end:
            self._paused_at = self._voiced_end
            self._start(now, pause=True)
        elif self._silent_frames == 0 and now - self._last_decode_end >= self.partial_interval:
            self._start(now, pause=False)

    def _start(self, end: int, *, pause: bool) -> _Decode:
        start = self._committed_at
        samples = pcm16_to_float32(bytes(self._pcm[start * 2 : end * 2]))
        self._last_decode_end = end
        self.decodes += 1
        decode = _Decode(start, end, asyncio.get_running_loop().create_task(self._decode(samples)), pause, 0.0)
        decode.started_at = time.perf_counter()
        decode.task.add_done_callback(lambda _: self._finished(decode))
        self._current = decode
        return decode

    async def _decode(self, samples: np.ndarray) -> str:
        result = await asr.transcribe(self.spec, samples, self.language)
        return result.text.strip()

    def _finished(self, decode: _Decode) -> None:
        if self._current is decode:
            self._current = None
        if decode.task.cancelled() or decode.task.exception() is not None:
            return
        decode.text = decode.task.result()
        decode.ms = int((time.perf_counter() - decode.started_at) * 1000)
        if decode.start == self._committed_at and (self._best is None or decode.end >= self._best.end):
            self._best = decode
        if not self._closed:
            self._report(decode)
            if decode.pause and decode.end - decode.start > self.commit_samples and decode.end >= self._voiced_end:
                self._commit(decode)
            self._schedule()

    def _commit(self, decode: _Decode) -> None:
        if decode.text:
            self._committed_text.append(decode.text)
        self._committed_at = decode.end
        self._previous_words = []
        self._best = None

    def _report(self, decode: _Decode) -> None:
        words = (decode.text or "").split()
        stable = common_prefix(self._previous_words, words)
        self._previous_words = words
        text = " ".join([*self._committed_text, decode.text or ""]).strip()
        stable_text = " ".join([*self._committed_text, *stable]).strip()
        if text and (not self.partials or self.partials[-1] != text):
            self.partials.append(text)
            self._call(self.on_partial, text, stable_text)
        if decode.pause and decode.end >= self._voiced_end:
            self._call(self.on_pause, text)

    def _call(self, callback: Callback | None, *args) -> None:
        if callback is None:
            return
        result = callback(*args)
        if asyncio.iscoroutine(result):
            task = asyncio.get_running_loop().create_task(result)
            task.add_done_callback(_log_failure)

    async def idle(self) -> None:
        """Wait until no decode runs (tests and benches drive it step by step with this)."""
        while self._current is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._current.task)
            await asyncio.sleep(0)

    # --- output ----------------------------------------------------------------------------------
    def covered(self) -> bool:
        """A finished decode saw every voiced frame (only silence came after it)."""
        return self._best is not None and self._best.end >= self._voiced_end

    async def final(self) -> FinalTranscript:
        """The utterance's transcript; decodes only what no earlier decode covered."""
        asked = time.perf_counter()
        self._closed = True
        current = self._current
        if current is not None and current.start == self._committed_at and current.end >= self._voiced_end:
            with contextlib.suppress(Exception):
                await current.task
            if current.text is not None:
                return self._final(current.text, asked, reused=True, decode=current)
        elif current is not None:
            with contextlib.suppress(Exception):
                await current.task  # one decode at a time: it must end first
        if self._heard and self.covered():
            assert self._best is not None and self._best.text is not None
            return self._final(self._best.text, asked, reused=True, decode=self._best)
        if not self._heard or self._voiced_end <= self._committed_at:
            return self._final("", asked, reused=bool(self._committed_text), decode=None)
        decode = self._start(self.samples, pause=False)
        text = await decode.task
        return self._final(text, asked, reused=False, decode=decode)

    async def adopt(self, text: str) -> FinalTranscript:
        """The transcript of the whole utterance, decoded by the turn detector at the pause the turn
        ended on (`vad.Utterance.transcript`): no decode is needed; a partial still running is dropped."""
        asked = time.perf_counter()
        await self.aclose()
        return FinalTranscript(
            text=text.strip(),
            asr_ms=int((time.perf_counter() - asked) * 1000),
            reused=True,
            decodes=self.decodes,
            decode_ms=0,
        )

    def _final(self, text: str, asked: float, *, reused: bool, decode: _Decode | None) -> FinalTranscript:
        full = " ".join([*self._committed_text, text]).strip()
        return FinalTranscript(
            text=full,
            asr_ms=int((time.perf_counter() - asked) * 1000),
            reused=reused,
            decodes=self.decodes,
            decode_ms=decode.ms if decode is not None else 0,
        )

    async def aclose(self) -> None:
        """Drop it (the turn was cancelled): a running decode finishes in its thread, unused."""
        self._closed = True
        current = self._current
        if current is not None:
            current.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await current.task


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("ASR partial callback failed", exc_info=task.exception())
