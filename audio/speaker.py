"""The voice pipeline as `conversations`' speaker (conversations.speakers): REST chat and chat/stream
with `speak` get the same sentence-by-sentence TTS as the talk socket (`pipeline.speak_events`).

Registered from AudioConfig.ready(). The factory resolves the bot's voice and loads it (cached per
process) before the turn starts, so a voice that cannot speak here is a 400 with the engine's own
message, not a failure halfway through a stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from bots.crypto import SecretError
from conversations.speakers import Speaker, SpeakerUnavailable

if TYPE_CHECKING:
    from bots.models import Bot
    from conversations.engine.events import Event


def speaker_for_bot(bot: Bot) -> Speaker:
    """Blocking (DB, decryption, model load): the REST view calls it in its own thread. The pipeline
    (numpy, the engines) is imported here, not when Django starts."""
    from audio import pipeline, tts

    try:
        voice = pipeline.Voice.for_bot_sync(bot)
        tts.load_tts(voice.tts)
    except (tts.TtsError, SecretError) as exc:
        raise SpeakerUnavailable(f"This bot cannot speak on this server: {exc}") from exc

    def speak(source: AsyncIterator[Event]) -> AsyncIterator[Event]:
        return pipeline.speak_events(source, voice, speak=True)

    return speak
