"""`manage.py voicebot_run` with WAV files instead of a sound card."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from audio.asr import AsrSpec, transcribe_sync
from audio.pcm import decode_for_asr
from conversations.models import Conversation, Message
from tests.audio.conftest import QUESTION, espeak_wav, words

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]

REPLY = "Our store opens at ten in the morning. It closes at six in the evening."
NUMBERS = {"ten": "10", "six": "6"}


def _normalised(text: str) -> list[str]:
    return [NUMBERS.get(w, w) for w in words(text)]


def test_it_answers_a_wav_with_a_spoken_reply_wav(voice_bot, openai_double, question_wav, tmp_path, asr_model_dir):
    openai_double.queue_text(REPLY)
    out = tmp_path / "reply.wav"
    stdout = io.StringIO()
    call_command(
        "voicebot_run",
        bot=str(voice_bot.pk),
        input_wav=question_wav,
        output_wav=out,
        no_greeting=True,
        stdout=stdout,
    )
    heard = transcribe_sync(AsrSpec("faster_whisper", asr_model_dir, "cpu"), decode_for_asr(out.read_bytes()), "en")
    assert _normalised(heard.text) == _normalised(REPLY)
    assert "1 turn(s)" in stdout.getvalue() and f"you: {QUESTION}".lower() in stdout.getvalue().lower()

    conversation = Conversation.objects.get(bot=voice_bot)
    assert conversation.channel == "cli" and conversation.has_voice  # one list of transports; a spoken turn
    stored = list(Message.objects.filter(conversation=conversation).values_list("role", "content"))
    assert stored[0][0] == "user" and words(stored[0][1]) == words(QUESTION)
    assert stored[1] == ("assistant", REPLY)


def test_it_speaks_the_greeting_first(voice_bot, openai_double, question_wav, tmp_path, asr_model_dir):
    openai_double.queue_text("We open at ten.")
    out = tmp_path / "reply.wav"
    call_command("voicebot_run", bot=str(voice_bot.pk), input_wav=question_wav, output_wav=out, stdout=io.StringIO())
    heard = transcribe_sync(AsrSpec("faster_whisper", asr_model_dir, "cpu"), decode_for_asr(out.read_bytes()), "en")
    assert _normalised(heard.text)[:4] == ["welcome", "to", "the", "shop"]
    roles = list(Message.objects.filter(conversation__bot=voice_bot).values_list("role", flat=True))
    assert roles == ["assistant", "user", "assistant"]


def test_it_explains_a_missing_bot_and_a_missing_input_file(db, voice_bot, tmp_path):
    with pytest.raises(CommandError, match="not found"):
        call_command("voicebot_run", bot="00000000-0000-0000-0000-000000000000", input_wav=tmp_path / "x.wav")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("voicebot_run", bot=str(voice_bot.pk), input_wav=tmp_path / "x.wav")


def test_a_turn_the_detector_judged_finished_is_not_transcribed_twice(voice_bot, openai_double, speech_dir, tmp_path):
    """Hands-free: at the first short pause the turn detector transcribes the utterance to judge it;
    when it ends the turn there, the turn starts on that transcript (no second decode of the audio)."""
    sentence = "How much does the blue jacket cost?"  # Smart Turn 0.97, transcribed word for word
    openai_double.queue_text(REPLY)
    call_command(
        "voicebot_run",
        bot=str(voice_bot.pk),
        input_wav=espeak_wav(speech_dir / "finished.wav", sentence),
        output_wav=tmp_path / "reply.wav",
        no_greeting=True,
        stdout=io.StringIO(),
    )
    user, assistant = Message.objects.filter(conversation__bot=voice_bot).order_by("created_at")
    assert words(user.content) == words(sentence)
    assert assistant.content == REPLY and assistant.asr_ms == 0
