from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from audio.pcm import (
    AudioDecodeError,
    Pcm16Buffer,
    decode_audio,
    decode_for_asr,
    float32_to_pcm16,
    pcm16_to_float32,
    resample,
    wav_bytes,
)


def _tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_it_ignores_a_trailing_odd_byte_instead_of_failing():
    pcm = float32_to_pcm16(np.array([0.5, -0.5], dtype=np.float32)) + b"\x01"
    samples = pcm16_to_float32(pcm)
    assert samples.shape == (2,)
    assert samples[0] == pytest.approx(0.5, abs=1e-3)


def test_it_carries_an_odd_byte_into_the_next_frame():
    pcm = float32_to_pcm16(np.array([0.25, -0.75, 0.5], dtype=np.float32))
    buffer = Pcm16Buffer(max_bytes=100)
    buffer.append(pcm[:3])  # a frame cut in the middle of the second sample
    first = buffer.take_even()
    buffer.append(pcm[3:])
    rest = buffer.take_all()
    assert pcm16_to_float32(first + rest) == pytest.approx([0.25, -0.75, 0.5], abs=1e-3)


def test_it_knows_when_a_frame_would_overflow_the_limit():
    buffer = Pcm16Buffer(max_bytes=4)
    buffer.append(b"\x00\x00")
    assert not buffer.would_overflow(b"\x00\x00")
    assert buffer.would_overflow(b"\x00\x00\x00")


def test_it_resamples_with_a_real_resampler_keeping_the_pitch():
    tone = _tone(440.0, 44100)
    out = resample(tone, 44100, 16000)
    assert len(out) == 16000
    assert _dominant_frequency(out, 16000) == pytest.approx(440.0, abs=2.0)


def test_it_downmixes_a_stereo_upload_and_resamples_it_to_16k():
    left, right = _tone(300.0, 48000), np.zeros(48000, dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, right], axis=1), 48000, format="WAV", subtype="PCM_16")
    samples = decode_for_asr(buffer.getvalue())
    assert samples.ndim == 1 and len(samples) == 16000
    assert np.abs(samples).max() == pytest.approx(0.25, abs=0.02)  # the mean of the two channels
    assert _dominant_frequency(samples, 16000) == pytest.approx(300.0, abs=2.0)


def test_it_writes_wav_chunks_with_the_real_sample_rate():
    wav = wav_bytes(_tone(200.0, 22050, 0.5), 22050)
    assert wav[:4] == b"RIFF"
    samples, rate = decode_audio(wav)
    assert rate == 22050 and len(samples) == 11025


def test_it_refuses_bytes_that_are_not_audio():
    with pytest.raises(AudioDecodeError):
        decode_audio(b"this is not a wav file")
