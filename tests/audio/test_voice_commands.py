"""The voice diagnostics commands."""

from __future__ import annotations

import importlib.util
import io

import pytest
from django.core.management import CommandError, call_command

from audio.devices import list_devices


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_doctor_reports_engines_models_and_keys_without_secrets(settings):
    settings.OPENAI_API_KEY = "sk-very-secret-value"
    report = _run("voicebot_doctor")
    assert "faster-whisper" in report and "piper-tts" in report and "webrtcvad-wheels" in report
    assert "OPENAI_API_KEY set: True" in report
    assert "sk-very-secret-value" not in report
    assert "piper default voice: en_US-joe-medium" in report


def test_devices_lists_what_portaudio_sees():
    report = _run("voicebot_devices")
    if list_devices():
        assert report.startswith("[0]")
    else:
        assert "No audio devices found" in report


@pytest.mark.voice
def test_tts_speakers_lists_a_piper_voices_speakers(piper_voice_path):
    report = _run("voicebot_tts_speakers", "--engine", "piper", "--voice", piper_voice_path)
    assert "No speakers exposed by this model." in report  # joe is a single-speaker voice


@pytest.mark.skipif(importlib.util.find_spec("TTS") is not None, reason="coqui-tts is installed here")
def test_tts_speakers_says_how_to_install_xtts():
    with pytest.raises(CommandError, match="requirements-xtts.txt"):
        _run("voicebot_tts_speakers")


@pytest.mark.skipif(bool(list_devices()), reason="this machine has sound devices")
@pytest.mark.django_db(transaction=True)
def test_run_without_a_sound_card_explains_how_to_use_wav_files(voice_bot):
    with pytest.raises(CommandError, match="microphone"):
        call_command("voicebot_run", bot=str(voice_bot.pk), no_greeting=True, stdout=io.StringIO())
