"""PCM16 and WAV helpers shared by every audio path.

Everything inside the app works on float32 mono arrays in [-1, 1]; bytes only appear at the edges
(websocket PCM16 frames, WAV uploads, WAV chunks sent to clients). Resampling uses soxr (a real
band-limited resampler), never linear interpolation.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
import soxr

ASR_SAMPLE_RATE = 16000


class AudioDecodeError(ValueError):
    """The bytes are not audio we can read (reported to clients as a 400 / error event)."""


def pcm16_to_float32(data: bytes) -> np.ndarray:
    """Little-endian PCM16 bytes → float32 in [-1, 1]. A trailing odd byte is ignored (half a sample)."""
    usable = len(data) - (len(data) % 2)
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


def float32_to_pcm16(samples: np.ndarray) -> bytes:
    """float32 in [-1, 1] → little-endian PCM16 bytes (clipped, symmetric scaling)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Down-mix (frames, channels) to mono by averaging the channels; 1-D input passes through."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality)."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Any soundfile-readable file (WAV, FLAC, OGG) → (float32 mono, sample rate)."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, TypeError)
        raise AudioDecodeError(f"Could not decode audio: {exc}") from exc
    return to_mono(samples), int(rate)


def decode_for_asr(data: bytes) -> np.ndarray:
    """An uploaded audio file → 16 kHz float32 mono, ready for ASR."""
    samples, rate = decode_audio(data)
    return resample(samples, rate, ASR_SAMPLE_RATE)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """float32 (or int16) samples → a complete RIFF/WAV file, PCM_16."""
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(samples), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def duration_s(samples: np.ndarray, sample_rate: int) -> float:
    return float(len(samples)) / float(sample_rate) if sample_rate else 0.0


class Pcm16Buffer:
    """Collects PCM16 frames that may be split at odd byte boundaries (a browser or proxy can cut a
    frame anywhere): a dangling byte is carried into the next frame instead of shifting every later
    sample by one byte."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    def would_overflow(self, chunk: bytes) -> bool:
        return len(self._data) + len(chunk) > self.max_bytes

    def append(self, chunk: bytes) -> None:
        self._data.extend(chunk)

    def take_even(self) -> bytes:
        """Remove and return the whole samples collected so far (an odd byte stays for the next frame)."""
        usable = len(self._data) - (len(self._data) % 2)
        out = bytes(self._data[:usable])
        del self._data[:usable]
        return out

    def take_all(self) -> bytes:
        """Remove and return everything, dropping a final half sample."""
        out = bytes(self._data[: len(self._data) - (len(self._data) % 2)])
        self._data.clear()
        return out

    def clear(self) -> None:
        self._data.clear()
