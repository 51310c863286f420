"""Spoken replies for the transports that live in `conversations` (REST chat and chat/stream).

`conversations` must not import `audio` (the floors in tests/test_layering.py), so the dependency is
inverted: the voice pipeline registers a *speaker factory* from `audio`'s AppConfig.ready(), the way
apps register with `bots` (`register_bot_files`, `register_encrypted_column`). A factory takes a bot
and returns a speaker: a function that wraps a turn's events and adds `Audio` events (one WAV per
sentence, spoken while the model is still writing) and the TTS timings. It raises
`SpeakerUnavailable` when the bot's voice cannot speak here (engine not installed, voice missing),
which the REST view answers as a 400 before anything is stored or streamed.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from conversations.engine.events import Event

if TYPE_CHECKING:
    from bots.models import Bot

Speaker = Callable[[AsyncIterator[Event]], AsyncIterator[Event]]
SpeakerFactory = Callable[["Bot"], Speaker]

NO_TTS_MESSAGE = "Spoken replies are not available on this server: no text-to-speech engine is installed."

_factories: list[SpeakerFactory] = []


class SpeakerUnavailable(Exception):
    """The bot cannot speak on this server; the message says why and what to do."""


def register_speaker(factory: SpeakerFactory) -> None:
    """Called from an AppConfig.ready() (once, however often ready() runs)."""
    if factory not in _factories:
        _factories.append(factory)


def speaker_for(bot: Bot) -> Speaker:
    """The bot's speaker. Blocking (it may read the DB and load the voice): call it from a thread or
    a sync view. Raises SpeakerUnavailable."""
    if not _factories:
        raise SpeakerUnavailable(NO_TTS_MESSAGE)
    return _factories[-1](bot)


def join_wavs(chunks: list[bytes]) -> bytes:
    """One WAV from the per-sentence WAVs of one voice (same rate, width and channels), for answers
    that carry a single file (REST chat's `audio_wav_base64`)."""
    params = None
    frames = []
    for chunk in chunks:
        with wave.open(io.BytesIO(chunk), "rb") as part:
            if params is None:
                params = part.getparams()
            elif part.getparams()[:3] != params[:3]:
                raise ValueError("the audio chunks have different formats")
            frames.append(part.readframes(part.getnframes()))
    out = io.BytesIO()
    if params is None:
        return b""
    with wave.open(out, "wb") as joined:
        joined.setnchannels(params.nchannels)
        joined.setsampwidth(params.sampwidth)
        joined.setframerate(params.framerate)
        joined.writeframes(b"".join(frames))
    return out.getvalue()
