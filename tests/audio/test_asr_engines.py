from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from audio.asr import AsrError, AsrSpec, load_asr, transcribe, transcribe_sync
from audio.pcm import decode_audio, decode_for_asr, resample
from tests.audio.conftest import QUESTION, words

pytestmark = pytest.mark.voice


def test_faster_whisper_transcribes_spoken_words(asr_model_dir, question_wav):
    spec = AsrSpec(engine="faster_whisper", model=asr_model_dir, device="cpu")
    result = transcribe_sync(spec, decode_for_asr(question_wav.read_bytes()), "en")
    assert words(result.text) == words(QUESTION)


def test_it_detects_the_language_when_the_bot_says_auto(asr_model_dir, question_wav):
    spec = AsrSpec(engine="faster_whisper", model=asr_model_dir, device="cpu")
    result = transcribe_sync(spec, decode_for_asr(question_wav.read_bytes()), "auto")
    assert result.language == "en"
    assert "store" in words(result.text)


async def test_a_44k_stereo_upload_is_recognised_after_resampling(asr_model_dir, question_wav):
    samples, rate = decode_audio(question_wav.read_bytes())
    stereo = np.stack([resample(samples, rate, 44100)] * 2, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 44100, format="WAV", subtype="PCM_16")
    spec = AsrSpec(engine="faster_whisper", model=asr_model_dir, device="cpu")
    result = await transcribe(spec, decode_for_asr(buffer.getvalue()), "en")
    assert words(result.text) == words(QUESTION)


def test_the_model_is_loaded_once_per_process(asr_model_dir):
    spec = AsrSpec(engine="faster_whisper", model=asr_model_dir, device="cpu")
    assert load_asr(spec) is load_asr(spec)


def test_openai_whisper_loads_a_local_checkpoint_and_runs_transcribe(tmp_path, question_wav):
    """A tiny randomly initialised Whisper saved as `whisper.load_model(path)` reads it: it recognises
    nothing, but our loading and transcribe path runs end to end."""
    torch = pytest.importorskip("torch")
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=448,
        n_text_state=64,
        n_text_head=2,
        n_text_layer=1,
    )
    checkpoint = tmp_path / "tiny-random.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": Whisper(dims).state_dict()}, checkpoint)

    spec = AsrSpec(engine="whisper", model=str(checkpoint), device="cpu")
    model = load_asr(spec)
    assert type(model).__name__ == "OpenAIWhisperModel"
    result = transcribe_sync(spec, decode_for_asr(question_wav.read_bytes())[:16000], "en")
    assert isinstance(result.text, str)


def test_it_explains_an_unknown_whisper_model():
    with pytest.raises(AsrError, match="Unknown Whisper model 'huge-v9'"):
        load_asr(AsrSpec(engine="whisper", model="huge-v9", device="cpu"))


def test_it_explains_an_unknown_engine():
    with pytest.raises(AsrError, match="Unknown ASR engine"):
        load_asr(AsrSpec(engine="vosk", model="x"))
