"""`manage.py voicebot_models`: list, pull (with a progress bar) and remove, against a loopback model
hub that speaks the Hugging Face API the real `huggingface_hub` client uses (tests/doubles/model_hub.py)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from audio import model_store
from tests.doubles.model_hub import ModelHub

SMALL_FILES = {
    "config.json": b'{"alignment_heads": []}',
    "model.bin": b"\x00" * 600_000,
    "tokenizer.json": b"{}",
    "vocabulary.txt": b"a\nb\n",
    "README.md": b"not pulled: only the model files are",
}
LESSAC = "en/en_US/lessac/medium/en_US-lessac-medium"


@pytest.fixture
def hub(settings, tmp_path):
    double = ModelHub().start()
    double.add_repo("Systran/faster-whisper-small", SMALL_FILES)
    double.add_repo(
        "rhasspy/piper-voices",
        {f"{LESSAC}.onnx": b"\x01" * 200_000, f"{LESSAC}.onnx.json": b"{}", "voices.json": b"{}"},
    )
    settings.VOICEBOT_MODEL_HUB_ENDPOINT = double.url
    settings.VOICEBOT_MODELS_DIR = tmp_path / "models"
    settings.VOICEBOT_PIPER_VOICES_DIR = tmp_path / "models" / "piper"
    yield double
    double.stop()


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("voicebot_models", *args, stdout=out)
    return out.getvalue()


def _line(listing: str, name: str) -> str:
    return next(line for line in listing.splitlines() if line.split()[0] == name)


def test_it_lists_each_known_model_with_its_state_and_size(hub):
    listing = _run("list")
    assert "installed" in _line(listing, "tiny.en") and "(packaged)" in _line(listing, "tiny.en")
    assert "not installed" in _line(listing, "small") and "~484 MB" in _line(listing, "small")
    assert "(packaged)" in _line(listing, "en_US-joe-medium")
    assert "not installed" in _line(listing, "en_US-lessac-medium")


def test_it_pulls_a_whisper_model_from_the_hub_with_a_progress_bar(hub):
    output = _run("pull", "small")
    assert "Pulling small (~484 MB)" in output
    assert "100.0%" in output and "[" + "#" * 30 + "]" in output
    assert "Installed small" in output
    path = model_store.asr_model_path("small")
    assert path is not None and (path / "model.bin").read_bytes() == SMALL_FILES["model.bin"]
    assert not (path / "README.md").exists()
    assert ("GET", "/api/models/Systran/faster-whisper-small/revision/main") in hub.requests
    assert any(p.startswith("/Systran/faster-whisper-small/resolve/") for _m, p in hub.requests)
    assert "not installed" not in _line(_run("list"), "small")

    assert "already installed" in _run("pull", "small")
    assert _run("remove", "small") == "Removed small\n"
    assert model_store.asr_model_path("small") is None
    assert "not installed" in _line(_run("list"), "small")


def test_it_pulls_a_piper_voice_into_the_voices_dir(hub, settings):
    output = _run("pull", "en_US-lessac-medium")
    assert "100.0%" in output and "Installed en_US-lessac-medium" in output
    voice = settings.VOICEBOT_PIPER_VOICES_DIR / "en_US-lessac-medium.onnx"
    assert voice.read_bytes() == b"\x01" * 200_000 and voice.with_suffix(".onnx.json").is_file()
    assert ("GET", "/api/models/rhasspy/piper-voices/revision/v1.0.0") in hub.requests
    assert sorted(p.name for p in settings.VOICEBOT_PIPER_VOICES_DIR.iterdir()) == [
        "en_US-lessac-medium.onnx",
        "en_US-lessac-medium.onnx.json",
    ]
    _run("remove", "en_US-lessac-medium")
    assert not voice.exists()


def test_a_model_the_hub_does_not_have_is_a_clear_error_and_leaves_nothing(hub, settings):
    with pytest.raises(CommandError, match="Could not download Systran/faster-whisper-medium from the model hub"):
        _run("pull", "medium")
    assert model_store.asr_model_path("medium") is None
    assert list((settings.VOICEBOT_MODELS_DIR / "faster_whisper").iterdir()) == []


def test_it_refuses_names_that_are_not_models(hub):
    with pytest.raises(CommandError, match="is not a model this command can pull"):
        _run("pull", "../../etc")
    with pytest.raises(CommandError, match="comes with a pip package"):
        _run("remove", "tiny.en")
