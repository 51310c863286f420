from __future__ import annotations

import importlib.util

import pytest

from audio.asr import AsrSpec, transcribe_sync
from audio.pcm import decode_audio, decode_for_asr
from audio.tts import TtsError, TtsSpec, load_tts, spec_for_bot, synthesize, synthesize_sync
from audio.tts.piper import resolve_voice
from tests.audio.conftest import words

pytestmark = pytest.mark.voice


def test_piper_speaks_words_that_whisper_hears_back(piper_voice_path, asr_model_dir):
    audio = synthesize_sync(TtsSpec(vendor="piper", voice=piper_voice_path), "The store opens at nine tomorrow.")
    samples, rate = decode_audio(audio.wav)
    assert audio.wav[:4] == b"RIFF" and rate == audio.sample_rate == 22050
    assert 1.0 < len(samples) / rate < 5.0
    heard = transcribe_sync(AsrSpec("faster_whisper", asr_model_dir, "cpu"), decode_for_asr(audio.wav), "en")
    assert {"store", "opens", "tomorrow"} <= set(words(heard.text))


async def test_synthesis_runs_off_the_event_loop_and_returns_a_wav(piper_voice_path):
    audio = await synthesize(TtsSpec(vendor="piper", voice=piper_voice_path), "Hello.")
    assert audio.wav[:4] == b"RIFF"


def test_the_default_voice_name_resolves_to_the_packaged_joe_voice(settings, piper_voice_path):
    settings.VOICEBOT_PIPER_VOICES_DIR = "/nonexistent-voices"
    assert str(resolve_voice("")) == piper_voice_path
    assert str(resolve_voice("en_US-joe-medium")) == piper_voice_path


def test_a_voice_name_is_looked_up_in_the_voices_dir(settings, tmp_path, piper_voice_path):
    from pathlib import Path

    (tmp_path / "my-voice.onnx").symlink_to(piper_voice_path)
    (tmp_path / "my-voice.onnx.json").symlink_to(Path(piper_voice_path + ".json"))
    settings.VOICEBOT_PIPER_VOICES_DIR = str(tmp_path)
    assert resolve_voice("my-voice") == tmp_path / "my-voice.onnx"


def test_it_explains_a_missing_voice_file():
    with pytest.raises(TtsError, match="does not exist"):
        load_tts(TtsSpec(vendor="piper", voice="/nowhere/voice.onnx"))


def test_it_refuses_a_voice_name_that_looks_like_a_path():
    with pytest.raises(TtsError, match="neither a voice name"):
        resolve_voice("../../etc/passwd")


@pytest.mark.skipif(importlib.util.find_spec("TTS") is not None, reason="coqui-tts is installed here")
def test_xtts_without_coqui_installed_says_how_to_install_it():
    with pytest.raises(TtsError, match="requirements-xtts.txt"):
        load_tts(TtsSpec(vendor="xtts", model="tts_models/multilingual/multi-dataset/xtts_v2", speaker_id="Ana"))


def test_a_bot_selects_its_voice(voice_bot, piper_voice_path):
    spec = spec_for_bot(voice_bot)
    assert (spec.vendor, spec.voice) == ("piper", piper_voice_path)


def test_openai_tts_without_a_key_is_a_clear_error(bot):
    bot.tts_vendor = "openai"
    with pytest.raises(TtsError, match="No OpenAI key"):
        load_tts(spec_for_bot(bot))


def test_openai_tts_speaks_through_the_sdk_with_the_real_sample_rate(bot, settings, speech_double, asr_model_dir):
    from tests.audio.speech_double import API_KEY

    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = API_KEY, speech_double.base_url
    bot.tts_vendor, bot.openai_tts_voice, bot.openai_tts_model = "openai", "nova", "gpt-4o-mini-tts"
    audio = synthesize_sync(spec_for_bot(bot), "Our store opens at ten.")
    assert speech_double.requests[-1] == {
        "input": "Our store opens at ten.",
        "model": "gpt-4o-mini-tts",
        "voice": "nova",
        "response_format": "wav",
        "speed": 1.0,
    }
    assert audio.sample_rate == 22050  # what the WAV says, not an assumed 24000
    heard = transcribe_sync(AsrSpec("faster_whisper", asr_model_dir, "cpu"), decode_for_asr(audio.wav), "en")
    assert {"store", "opens"} <= set(words(heard.text))


def test_openai_tts_with_a_wrong_key_is_a_clear_error(bot, settings, speech_double):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-wrong", speech_double.base_url
    settings.VOICEBOT_OPENAI_MAX_RETRIES = 0
    bot.tts_vendor = "openai"
    with pytest.raises(TtsError, match="OpenAI TTS failed"):
        synthesize_sync(spec_for_bot(bot), "Hello.")
