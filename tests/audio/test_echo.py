"""The bot's own voice fed back into its input (as laptop speakers would) is not a barge-in; the
user talking over it is. Real Piper audio, attenuated and delayed as an echo path would."""

from __future__ import annotations

import numpy as np
import pytest

from audio.echo import BargeIn, EchoGuard, text_is_echo
from audio.pcm import decode_audio, decode_for_asr, resample
from audio.tts import TtsSpec, synthesize_sync

pytestmark = pytest.mark.voice
FRAME = 320  # 20 ms at 16 kHz


@pytest.fixture(scope="module")
def bot_voice(piper_voice_path) -> np.ndarray:
    audio = synthesize_sync(TtsSpec(vendor="piper", voice=piper_voice_path), "Sure, the store opens at nine.")
    samples, rate = decode_audio(audio.wav)
    return resample(samples, rate, 16000)


def _barge_in_at(mic: np.ndarray, played: np.ndarray, delay_s: float) -> float | None:
    """Play `played` at t=0 and feed `mic` (which hears it `delay_s` later) frame by frame."""
    guard = EchoGuard()
    guard.played(played, 16000, at=0.0)
    detector = BargeIn(guard)
    for i in range(0, len(mic) - FRAME, FRAME):
        if detector.feed(mic[i : i + FRAME], at=i / 16000):
            return i / 16000
    return None


def _echo(played: np.ndarray, delay_s: float, gain: float, length: int) -> np.ndarray:
    mic = np.zeros(length, dtype=np.float32)
    delay = int(delay_s * 16000)
    mic[delay : delay + len(played)] = gain * played[: length - delay]
    return mic


@pytest.mark.parametrize("gain", [0.3, 0.7])  # quiet and loud laptop speakers
def test_the_bots_own_voice_coming_back_is_not_a_barge_in(bot_voice, gain):
    mic = _echo(bot_voice, 0.12, gain, len(bot_voice) + 16000)
    mic += np.random.default_rng(0).normal(0, 0.003, mic.size).astype(np.float32)  # room noise
    assert _barge_in_at(mic, bot_voice, 0.12) is None


def test_the_user_talking_over_the_bot_is_a_barge_in(bot_voice, question_wav):
    user = decode_for_asr(question_wav.read_bytes())
    user = user / max(1e-6, np.abs(user).max()) * 0.9  # a person close to the mic
    # Echo at gain 0.3 (laptop speakers with the browser's echo cancellation off). At 0.5, a voice at
    # 0.9 peak is not twice the predicted echo while the bot talks, and counts once the bot stops.
    mic = _echo(bot_voice, 0.12, 0.3, len(bot_voice) + 16000)
    start = 16000  # the user starts 1 s into the reply (the first 0.6 s learn the echo path)
    mic[start : start + len(user)] += user[: mic.size - start]
    at = _barge_in_at(mic, bot_voice, 0.12)
    assert at is not None and 1.0 < at < 1.0 + 1.0


def test_a_partial_transcript_of_the_words_being_spoken_is_echo():
    speaking = "Sure, the store opens at nine in the morning."
    assert text_is_echo("the store opens at nine", speaking)
    assert not text_is_echo("no wait, I meant Sunday", speaking)
