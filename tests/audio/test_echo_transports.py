"""Barge-in on the two transports that listen while the bot speaks (voicebot_run --barge-in, the phone
line): the bot's own voice coming back into the input does not interrupt it; the user talking over it
does. Real components throughout (Piper, faster-whisper tiny.en, the VAD and turn detector, the OpenAI
double, for the phone the live server and the Twilio call double); the echo is the played audio itself,
delayed 120 ms, attenuated, with a little noise, as laptop speakers or a handset would send it back.
"""

from __future__ import annotations

import asyncio
import base64
import time

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from audio.echo import text_is_echo
from audio.local_loop import FRAME_SAMPLES, run_loop
from audio.pcm import decode_audio, decode_for_asr, float32_to_pcm16, pcm16_to_float32, resample
from conversations.engine.events import Audio
from telephony.media import PHONE_SAMPLE_RATE, pcm16_to_ulaw, ulaw_to_pcm16
from tests.audio.conftest import QUESTION, espeak_wav, words
from tests.telephony.call_double import CallDouble
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, answered_call, phone_bot, phone_server  # noqa: F401

pytestmark = [pytest.mark.voice, pytest.mark.django_db(transaction=True)]

RATE = 16000
ECHO_DELAY_S = 0.12
NOISE = 0.003
REPLY = (
    "The store opens at nine in the morning. The bakery opens at ten. The pharmacy opens at eleven. "
    "The garden centre opens at noon."
)
OVER = "No wait, I meant on Sunday."  # the user talking over the reply
AFTER = "On Sunday we open at noon."


def _loud(samples: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """A person close to the mic: louder than the bot's echo."""
    return (samples / max(1e-6, float(np.abs(samples).max())) * peak).astype(np.float32)


class EchoRoom:
    """Speakers and a microphone in one room, on the mic's sample clock (16 kHz), as a sink and a live
    source for `run_loop`. What the sink plays goes on the speaker track where the mic clock stands (or
    after what plays already); the mic hears the speaker track `ECHO_DELAY_S` later at `gain` with
    a little noise on that path (only while it carries sound: webrtcvad takes the onset of steady noise
    for speech, a start-up artefact that is not the echo's business), and the user's utterances. The source runs in real time (30 ms frames) and ends
    `idle_s` after the speakers fell silent with no user speech left, or at `limit_s`."""

    sequential = False

    def __init__(self, *, gain: float, idle_s: float = 2.0, limit_s: float = 60.0) -> None:
        self.gain = gain
        self.clock = 0  # mic samples heard so far
        self.speaker = np.zeros(0, dtype=np.float32)
        self.sounding = np.zeros(0, dtype=bool)  # where the speaker track carries a chunk
        self.played_until = 0  # samples
        self.first_played: int | None = None
        self.stops: list[int] = []
        self.user: list[tuple[int, np.ndarray]] = []  # (start sample, speech)
        self.on_first_played = None  # called with the sample the first chunk starts at
        self.on_played = None  # set by run_loop (barge-in)
        self.ended = False
        self._idle = int(idle_s * RATE)
        self._limit = int(limit_s * RATE)
        self._noise = np.random.default_rng(0)

    # --- the user ----------------------------------------------------------------------------------
    def say(self, speech: np.ndarray, at: int) -> None:
        self.user.append((at, speech))

    # --- the sink (speakers) -----------------------------------------------------------------------
    def play(self, audio: Audio) -> None:
        samples, rate = decode_audio(audio.wav)
        if self.on_played is not None:
            self.on_played(samples, rate, audio.text)
        samples = resample(samples, rate, RATE)
        start = max(self.clock, self.played_until)
        if self.speaker.size < start + samples.size:
            grow = start + samples.size - self.speaker.size
            self.speaker = np.concatenate([self.speaker, np.zeros(grow, np.float32)])
            self.sounding = np.concatenate([self.sounding, np.zeros(grow, bool)])
        self.speaker[start : start + samples.size] = samples
        self.sounding[start : start + samples.size] = True
        self.played_until = start + samples.size
        if self.first_played is None:
            self.first_played = start
            if self.on_first_played is not None:
                self.on_first_played(start)

    def stop(self) -> None:
        self.stops.append(self.clock)
        self.speaker, self.sounding = self.speaker[: self.clock], self.sounding[: self.clock]
        self.played_until = min(self.played_until, self.clock)

    async def wait_idle(self) -> None:
        while self.clock < self.played_until and not self.ended:
            await asyncio.sleep(0.01)

    def close(self) -> None:
        pass

    # --- the source (microphone) -------------------------------------------------------------------
    def _mic(self, start: int, size: int) -> np.ndarray:
        mic = np.zeros(size, dtype=np.float32)
        noise = self._noise.normal(0, NOISE, size).astype(np.float32)
        delay = int(ECHO_DELAY_S * RATE)
        lo, hi = max(0, start - delay), min(self.speaker.size, start + size - delay)
        if hi > lo:
            echo = self.gain * self.speaker[lo:hi] + noise[: hi - lo] * self.sounding[lo:hi]
            mic[lo + delay - start : hi + delay - start] += echo
        for at, speech in self.user:
            lo, hi = max(start, at), min(start + size, at + speech.size)
            if hi > lo:
                mic[lo - start : hi - start] += speech[lo - at : hi - at]
        return np.clip(mic, -1, 1)

    def _done(self) -> bool:
        last_user = max((at + speech.size for at, speech in self.user), default=0)
        quiet_since = max(last_user, self.played_until)
        return self.clock >= self._limit or (self.first_played is not None and self.clock > quiet_since + self._idle)

    async def frames(self):
        started = time.perf_counter()
        while not self._done():
            frame = float32_to_pcm16(self._mic(self.clock, FRAME_SAMPLES))
            self.clock += FRAME_SAMPLES
            yield frame
            await asyncio.sleep(max(0.0, started + self.clock / RATE - time.perf_counter()))
        self.ended = True

    def drain(self) -> None:
        pass


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """espeak-ng utterances as 16 kHz float samples."""
    folder = tmp_path_factory.mktemp("echo-speech")

    def samples(text: str) -> np.ndarray:
        return decode_for_asr(espeak_wav(folder / f"{abs(hash(text))}.wav", text).read_bytes())

    return samples


def _converse(voice_bot, room: EchoRoom) -> tuple[int, str]:
    from conversations.services import conversation_start

    conversation = conversation_start(bot=voice_bot, test_flag=True, channel="cli")
    conversation.bot = voice_bot
    lines: list[str] = []
    turns = asyncio.run(
        asyncio.wait_for(
            run_loop(
                bot=voice_bot,
                conversation=conversation,
                source=room,
                sink=room,
                greeting=False,
                barge_in=True,
                write=lines.append,
            ),
            timeout=90,
        )
    )
    return turns, "\n".join(lines)


def _messages(bot) -> list:
    from conversations.models import Message

    return list(Message.objects.filter(conversation__bot=bot).order_by("created_at"))


def test_voicebot_run_the_bots_own_voice_coming_back_does_not_interrupt_it(voice_bot, openai_double, spoken):
    openai_double.queue_text(REPLY)
    room = EchoRoom(gain=0.6)  # loud laptop speakers
    room.say(_loud(spoken(QUESTION), 0.6), at=int(0.3 * RATE))
    turns, output = _converse(voice_bot, room)

    assert room.first_played is not None and not room.stops, output
    assert room.played_until - room.first_played > 6 * RATE  # the whole reply was played (and echoed)
    assert turns == 1 and "(interrupted)" not in output, output
    user, assistant = _messages(voice_bot)
    assert words(user.content) == words(QUESTION)
    assert (assistant.role, assistant.content, assistant.interrupted) == ("assistant", REPLY, False)


def test_voicebot_run_the_user_talking_over_the_bot_interrupts_it(voice_bot, openai_double, spoken):
    openai_double.queue_text(REPLY)
    openai_double.queue_text(AFTER)
    room = EchoRoom(gain=0.3)
    room.say(_loud(spoken(QUESTION), 0.6), at=int(0.3 * RATE))
    over = _loud(spoken(OVER))
    room.on_first_played = lambda start: room.say(over, at=start + RATE)  # 1 s into the reply
    turns, output = _converse(voice_bot, room)

    assert len(room.stops) == 1 and "(interrupted)" in output, output
    cut_after = (room.stops[0] - room.first_played) / RATE
    assert 1.0 < cut_after < 2.0, cut_after  # the guard fired within a second of the user's first word
    messages = [m for m in _messages(voice_bot) if m.role in ("user", "assistant")]
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"], output
    first_reply = messages[1]
    assert first_reply.interrupted and first_reply.content == "The store opens at nine in the morning."
    # The speech over the bot is the next turn, not the bot's own words. Its transcript is tiny.en on
    # espeak-ng mixed with the echo: usually "No wait, I meant on Sunday" word for word, but once in
    # the scale profile "I'm in Tonsun, mate.", so the words themselves are not asserted.
    over_said = messages[2].content
    assert len(words(over_said)) >= 3 and not text_is_echo(over_said, REPLY), over_said
    assert messages[3].content == AFTER and not messages[3].interrupted
    assert turns == 2


# --- the phone line --------------------------------------------------------------------------------
PHONE_FRAME = PHONE_SAMPLE_RATE // 50  # 20 ms


class EchoCall(CallDouble):
    """The Twilio call double on a handset that sends back what it plays: each frame the server sends
    plays when the one before it has (or on arrival; `clear` drops what had not started), and the
    caller's microphone hears it `ECHO_DELAY_S` later at `gain` with a little noise on that path, plus
    what the caller says (`talk`, 8 kHz float samples)."""

    def __init__(self, *, gain: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gain = gain
        self._voice: list[np.ndarray] = []
        self._segments: list[tuple[float, np.ndarray]] = []  # (perf_counter it starts playing, 20 ms)
        self._seen = self._cleared = 0
        self._out_end = 0.0
        self._noise = np.random.default_rng(1)

    def talk(self, samples: np.ndarray) -> None:
        samples = np.concatenate([samples, np.zeros(-samples.size % PHONE_FRAME, np.float32)])
        self._voice.extend(samples.reshape(-1, PHONE_FRAME))

    def _playout(self) -> None:
        events = [(r.at, "frame", r.frame) for r in self.received[self._seen :]]
        events += [(at, "clear", b"") for at in self.clears[self._cleared :]]
        self._seen, self._cleared = len(self.received), len(self.clears)
        for at, kind, frame in sorted(events, key=lambda e: e[0]):
            if kind == "clear":
                self._segments = [(t, f) for t, f in self._segments if t < at]
                self._out_end = min(self._out_end, at)
            else:
                start = max(self._out_end, at)
                self._segments.append((start, pcm16_to_float32(ulaw_to_pcm16(frame))))
                self._out_end = start + len(frame) / PHONE_SAMPLE_RATE

    def _heard(self, since: float) -> np.ndarray:
        """The echo of what played over [since, since + 20 ms)."""
        echo = np.zeros(PHONE_FRAME, np.float32)
        noise = self._noise.normal(0, NOISE, PHONE_FRAME).astype(np.float32)
        for start, samples in reversed(self._segments):
            if start + 0.02 <= since:
                break
            offset = int(round((start - since) * PHONE_SAMPLE_RATE))
            lo, hi = max(0, offset), min(PHONE_FRAME, offset + samples.size)
            if hi > lo:
                echo[lo:hi] += self.gain * samples[lo - offset : hi - offset] + noise[lo:hi]
        return echo

    async def _microphone(self) -> None:
        started, sent = time.perf_counter(), 0
        while True:
            now = time.perf_counter()
            self._playout()
            mic = self._heard(now - 0.02 - ECHO_DELAY_S)
            if self._voice:
                mic = mic + self._voice.pop(0)
                if not self._voice:
                    self.speech_ended_at = now
            frame = pcm16_to_ulaw(float32_to_pcm16(np.clip(mic, -1, 1)))
            sent += 1
            await self._send(
                {
                    "event": "media",
                    "sequenceNumber": str(sent + 1),
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(sent),
                        "timestamp": str(sent * 20),
                        "payload": base64.b64encode(frame).decode(),
                    },
                }
            )
            await asyncio.sleep(max(0.0, started + sent * 0.02 - time.perf_counter()))


@pytest.fixture
def echo_call(phone_server, phone_bot):  # noqa: F811
    def call(gain: float) -> EchoCall:
        return EchoCall(
            gain=gain,
            public_base_url=phone_server.url,
            bot_id=phone_bot.pk,
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
        )

    return call


def _phone(samples: np.ndarray, peak: float) -> np.ndarray:
    return resample(_loud(samples, peak), RATE, PHONE_SAMPLE_RATE)


async def _poll(check, *, timeout_s: float = 15.0):
    async with asyncio.timeout(timeout_s):
        while not (result := await sync_to_async(check)()):
            await asyncio.sleep(0.1)
    return result


def _phone_messages(bot) -> list:
    return [m for m in _messages(bot) if m.role in ("user", "assistant")]


@pytest.mark.slow
async def test_phone_the_bots_own_voice_coming_back_does_not_interrupt_it(phone_server, phone_bot, echo_call, spoken):  # noqa: F811
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the live server shares the SQLite test database file")
    phone_server.double.queue_text(REPLY)
    call = echo_call(gain=0.6)
    async with answered_call(call, phone_server):
        await call.wait_quiet(quiet_s=0.6, timeout_s=30)  # the greeting, echoed, played to the end
        call.talk(_phone(spoken(QUESTION), 0.6))
        async with asyncio.timeout(30):
            while call.speech_ended_at is None:
                await asyncio.sleep(0.05)
        await call.wait_quiet(quiet_s=1.0, timeout_s=60, after=call.speech_ended_at)
        reply_s = len(call.frames_after(call.speech_ended_at)) * 0.02
        await call.hang_up()

    assert not call.clears and reply_s > 6, reply_s  # the reply played to the end, echo and all
    messages = await _poll(lambda: len(m := _phone_messages(phone_bot)) >= 3 and m)
    assert [(m.role, m.content, m.interrupted) for m in messages if m.role == "assistant"] == [
        ("assistant", "Welcome to the shop.", False),
        ("assistant", REPLY, False),
    ]


@pytest.mark.slow
async def test_phone_the_caller_talking_over_the_bot_interrupts_it(phone_server, phone_bot, echo_call, spoken):  # noqa: F811
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the live server shares the SQLite test database file")
    phone_server.double.queue_text(REPLY)
    phone_server.double.queue_text(AFTER)
    call = echo_call(gain=0.3)
    async with answered_call(call, phone_server):
        await call.wait_quiet(quiet_s=0.6, timeout_s=30)
        call.talk(_phone(spoken(QUESTION), 0.6))
        async with asyncio.timeout(60):  # 1 s of the reply has come (and is playing, echoed)
            while call.speech_ended_at is None or len(call.frames_after(call.speech_ended_at)) < 50:
                await asyncio.sleep(0.01)
        over_at = time.perf_counter()
        call.talk(_phone(spoken(OVER), 0.9))
        async with asyncio.timeout(10):
            while not call.clears:
                await asyncio.sleep(0.02)
        cleared_after = call.clears[0] - over_at
        messages = await _poll(lambda: len(m := _phone_messages(phone_bot)) >= 5 and m, timeout_s=60)
        await call.wait_quiet(quiet_s=0.8, timeout_s=60, after=call.clears[-1])
        await call.hang_up()

    assert 0.2 < cleared_after < 1.5 and len(call.clears) == 1, (cleared_after, call.clears)
    greeting, question, reply, over, after = messages
    assert reply.interrupted and REPLY.startswith(reply.content) and reply.content != REPLY  # as far as heard
    # the caller's speech over the bot is the next turn (tiny.en mishears espeak's "Sunday" through
    # 8 kHz mu-law, so: not the bot's words, and its start is there)
    assert over.role == "user" and not text_is_echo(over.content, REPLY), over.content
    # "No wait," leads OVER and is short: through 8 kHz μ-law tiny.en sometimes drops it (seen once in
    # a full run: "I meant on turn may."), so one word of it is asserted, not its first ones
    assert "meant" in words(over.content), over.content
    assert after.content == AFTER and not after.interrupted
