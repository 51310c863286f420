"""Telephone audio at the edge: 8 kHz μ-law in 20 ms frames ↔ the app's 16 kHz PCM16 and WAV chunks.

μ-law uses the standard library's `audioop` (Python 3.11; `audioop-lts` has no 3.11 build). Resampling
is soxr, as everywhere else: a streaming resampler for the caller's continuous 20 ms frames (no
edge clicks between frames) and a one-shot one for each synthesised chunk.
"""

from __future__ import annotations

import warnings

import numpy as np
import soxr

from audio.pcm import ASR_SAMPLE_RATE, decode_audio, float32_to_pcm16, pcm16_to_float32, resample

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # removed in 3.13; this project runs 3.11
    import audioop

PHONE_SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = PHONE_SAMPLE_RATE * FRAME_MS // 1000  # μ-law: one byte per sample
ULAW_SILENCE = b"\xff"


def ulaw_to_pcm16(data: bytes) -> bytes:
    return audioop.ulaw2lin(data, 2)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


class CallerAudio:
    """The caller's μ-law frames → 16 kHz PCM16 for the VAD and ASR, resampled as one stream."""

    def __init__(self) -> None:
        self._resampler = soxr.ResampleStream(PHONE_SAMPLE_RATE, ASR_SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def feed(self, ulaw: bytes) -> tuple[bytes, bytes]:
        """(8 kHz PCM16 as received, 16 kHz PCM16 for the VAD)."""
        pcm8 = ulaw_to_pcm16(ulaw)
        samples = self._resampler.resample_chunk(pcm16_to_float32(pcm8))
        return pcm8, float32_to_pcm16(samples)


def wav_to_ulaw_frames(wav: bytes) -> list[bytes]:
    """One synthesised WAV chunk → 20 ms μ-law frames at 8 kHz (the last padded with silence)."""
    samples, rate = decode_audio(wav)
    pcm = float32_to_pcm16(resample(samples, rate, PHONE_SAMPLE_RATE))
    ulaw = pcm16_to_ulaw(pcm)
    if len(ulaw) % FRAME_BYTES:
        ulaw += ULAW_SILENCE * (FRAME_BYTES - len(ulaw) % FRAME_BYTES)
    return [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]


def ulaw_frames_to_samples(frames: list[bytes]) -> np.ndarray:
    """μ-law frames → float32 at 8 kHz (what a caller hears; used by tests and benchmarks)."""
    return pcm16_to_float32(ulaw_to_pcm16(b"".join(frames)))
