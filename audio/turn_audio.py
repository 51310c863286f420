"""Keep the audio of voice turns: what the user said and what the bot said, one WAV each, referenced
from their Message rows (`Message.audio`, written through `conversations.services`).

The pipeline calls two hooks: `user_audio_fields` where a voice turn has the utterance (its storage
name rides with the user message's fields, so the row and its audio are one write), and `ReplyAudio`
where `speak_events` yields each synthesised chunk (joined and stored on the assistant message once
the reply is done). VOICEBOT_STORE_VOICE_AUDIO=false stores nothing; the cleanup job deletes files
older than VOICEBOT_VOICE_AUDIO_RETENTION_DAYS. A reply cut off by barge-in keeps its text but not
its audio (the turn is cancelled before it could be joined).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings

from audio.pcm import ASR_SAMPLE_RATE, decode_audio, wav_bytes
from conversations.engine.events import Audio

logger = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(getattr(settings, "VOICEBOT_STORE_VOICE_AUDIO", True))


async def user_audio_fields(conversation_id: Any, samples: np.ndarray | None) -> dict[str, str]:
    """{"audio": storage name} for the user message of a voice turn ({} when off or empty)."""
    if not enabled() or samples is None or not len(samples):
        return {}
    from conversations.services import voice_audio_save

    wav = wav_bytes(np.asarray(samples, dtype=np.float32), ASR_SAMPLE_RATE)
    try:
        name = await sync_to_async(voice_audio_save)(conversation_id=conversation_id, wav=wav, role="user")
    except OSError:
        logger.exception("Could not store the user's audio of a voice turn")
        return {}
    return {"audio": name}


class ReplyAudio:
    """The bot's audio of one reply, chunk by chunk, stored on its message when the reply is done."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def add(self, event: Audio) -> None:
        if enabled():
            self.chunks.append(event.wav)

    def joined(self) -> bytes | None:
        parts, rate = [], 0
        for wav in self.chunks:
            samples, chunk_rate = decode_audio(wav)
            if rate and chunk_rate != rate:
                continue  # one voice per reply; a stray rate is not worth resampling
            rate = chunk_rate
            parts.append(samples)
        return wav_bytes(np.concatenate(parts), rate) if parts else None

    async def store(self, message_id: str) -> None:
        if not message_id or not self.chunks or not enabled():
            return
        from conversations.services import message_attach_audio

        try:
            wav = self.joined()
            if wav is not None:
                await sync_to_async(message_attach_audio)(message_id=message_id, wav=wav)
        except Exception:  # the reply was delivered; losing its recording must not fail the turn
            logger.exception("Could not store the bot's audio of a voice turn")
