"""The hands-free end-of-turn set: synthetic utterances, half complete, half that pause mid-thought.

Incomplete ones keep the voice's mid-sentence intonation before the pause, as a person's would, e.g.
"I'd like to book <1 s> a table for two.":
- espeak-ng (the gate): one SSML utterance with a 1 s `<break>` inside the sentence;
- Piper (`voice="piper"`, the packaged en_US-joe-medium, a neural voice trained on recordings of a
  person, so its pitch and timing are closer to human speech than espeak-ng's flat prosody): the
  whole sentence synthesised once, and 1 s of silence inserted at the word boundary the voice's own
  phoneme alignment gives.
A detector passes when it ends every complete one soon after its end of speech, never before it, and
cuts no incomplete one at its pause. Shared by tests/audio/test_turn_detector.py (the gate) and
tests/bench/bench_voice_turns.py (timings and the fixed-silence comparison).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.pcm import decode_for_asr, float32_to_pcm16
from audio.vad import Utterance

COMPLETE = [
    "What time does the store open on Sunday morning?",
    "Please cancel my order.",
    "I want to order a large pizza.",
    "Can you tell me the weather in Paris?",
    "Thank you very much for your help.",
    "My order number is four five six seven.",
    "I would like to speak to a manager.",
    "Yes, that is correct.",
    "How much does the blue jacket cost?",
    "Book me a table for two at eight tonight.",
]
INCOMPLETE = [
    ("I'd like to book", "a table for two."),
    ("Can you tell me the", "opening hours?"),
    ("My name is", "John Smith."),
    ("I need to change my", "delivery address."),
    ("So I was wondering if", "you are open tomorrow."),
    ("The thing is that", "my card was charged twice."),
    ("Could you send it to", "my office instead?"),
    ("I ordered a pair of shoes and", "they never arrived."),
    ("What I really want is", "a refund."),
    ("I'm looking for a gift for", "my sister."),
]
# A second set, written after the transcript-confidence thresholds (audio/turn_detector.py) were set
# on the first and never used to tune them: the bench reports it as the held-out figure.
HELD_OUT_COMPLETE = [
    "I would like to pay my bill.",
    "Where is the nearest train station?",
    "Please send me a copy of the receipt.",
    "The package arrived this morning.",
    "Can I change my appointment to Friday?",
    "I lost my password.",
    "Do you deliver on weekends?",
    "My phone number is five five five one two three four.",
    "That sounds great, thank you.",
    "I want to return these headphones.",
]
HELD_OUT_INCOMPLETE = [
    ("I was hoping to", "speak with someone today."),
    ("Could you check the status of", "my last order?"),
    ("My account number is", "seven seven one two."),
    ("I think the problem is with", "the charger."),
    ("We are planning a trip to", "Rome in May."),
    ("Is there any way to", "get a discount?"),
    ("The delivery was supposed to", "come yesterday."),
    ("I'd like to know more about", "your prices."),
    ("Can you remind me what", "the address is?"),
    ("I called last week because", "the screen was broken."),
]
PAUSE_MS = 1000
LEAD_S = 0.3  # silence before speech
TAIL_S = 2.5  # silence after speech: room for any detector to decide


@dataclass(frozen=True)
class TurnCase:
    text: str
    complete: bool  # False: a mid-sentence pause the detector must not end the turn at
    samples: np.ndarray  # 16 kHz float32, LEAD_S silence, speech, TAIL_S silence
    speech_end_s: float  # end of the last speech in the WAV
    pause_start_s: float | None  # incomplete: where the mid-sentence pause begins
    resume_s: float | None  # incomplete: where speech resumes


@dataclass(frozen=True)
class Score:
    """How a detector did on a set (the gate: `in_time` = all complete ones, `cut_short` = 0, `cut` = 0)."""

    in_time: int  # complete ones ended 0-350 ms after their end of speech
    cut_short: int  # complete ones ended before their end of speech (at a pause inside the sentence)
    cut: int  # incomplete ones ended at their mid-sentence pause
    complete_delays_ms: tuple[float, ...]  # complete ones that ended after their end of speech
    resumed_delays_ms: tuple[float, ...]  # incomplete ones not cut: end of turn after their last word

    def summary(self) -> str:
        short = f", {self.cut_short}/10 complete cut short" if self.cut_short else ""
        return f"{self.in_time}/10 in time{short}, {self.cut}/10 cut"


def end_of_turn(segmenter, samples: np.ndarray) -> float | None:
    """Seconds into the audio at which the segmenter ended the turn, fed 20 ms frames (None: never)."""
    pcm = float32_to_pcm16(samples)
    for i in range(0, len(pcm), 640):
        if any(isinstance(event, Utterance) for event in segmenter.feed(pcm[i : i + 640])):
            return (i + 640) / 32000
    return None


def score(cases: list[TurnCase], make_segmenter) -> Score:
    """Run a fresh segmenter over each case; decisions are counted in audio time, never wall time.
    A complete sentence ended before its last word is not "in time": the user was cut off."""
    in_time = cut_short = cut = 0
    delays, resumed = [], []
    for case in cases:
        ended = end_of_turn(make_segmenter(), case.samples)
        if ended is None:
            continue
        after_speech_ms = (ended - case.speech_end_s) * 1000
        if case.complete:
            cut_short += after_speech_ms < 0
            in_time += 0 <= after_speech_ms <= 350
            if after_speech_ms >= 0:
                delays.append(after_speech_ms)
        elif ended < case.resume_s:
            cut += 1
        else:
            resumed.append(after_speech_ms)
    return Score(in_time, cut_short, cut, tuple(delays), tuple(resumed))


def _voiced_runs(samples: np.ndarray, frame: int = 160, level: float = 0.005) -> list[tuple[int, int]]:
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    voiced = np.sqrt((frames**2).mean(axis=1)) > level
    runs, start = [], None
    for i, v in enumerate(voiced):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append((start * frame, i * frame))
            start = None
    if start is not None:
        runs.append((start * frame, len(voiced) * frame))
    return runs


def _espeak(directory: Path, name: str, text: str, ssml: bool) -> np.ndarray:
    path = directory / f"{name}.wav"
    if not path.exists():
        command = ["espeak-ng", "-s", "165", *(["-m"] if ssml else []), "-w", str(path), text]
        subprocess.run(command, check=True, capture_output=True)
    return decode_for_asr(path.read_bytes())


def build_cases(directory: Path, held_out: bool = False, voice: str = "espeak") -> list[TurnCase]:
    """The 20 cases of the gate set (or the held-out set) in espeak-ng's voice (generated once per
    directory) or Piper's (`voice="piper"`)."""
    if voice == "piper":
        return _piper_cases(held_out)
    directory = directory / ("held_out" if held_out else "gate")
    directory.mkdir(parents=True, exist_ok=True)
    complete, incomplete = _sentences(held_out)
    cases = [_case(text, True, _espeak(directory, f"complete{i}", text, ssml=False)) for i, text in enumerate(complete)]
    for index, (head, tail) in enumerate(incomplete):
        ssml = f"<speak>{head} <break time='{PAUSE_MS}ms'/> {tail}</speak>"
        speech = _espeak(directory, f"incomplete{index}", ssml, ssml=True)
        runs = _voiced_runs(speech)
        # the pause is the longest gap between voiced runs
        _, pause_start, resume = max(
            (runs[i + 1][0] - runs[i][1], runs[i][1], runs[i + 1][0]) for i in range(len(runs) - 1)
        )
        cases.append(_case(f"{head} … {tail}", False, speech, (pause_start, resume)))
    return cases


def _sentences(held_out: bool) -> tuple[list[str], list[tuple[str, str]]]:
    return (HELD_OUT_COMPLETE, HELD_OUT_INCOMPLETE) if held_out else (COMPLETE, INCOMPLETE)


def _case(text: str, complete: bool, speech: np.ndarray, pause: tuple[int, int] | None = None) -> TurnCase:
    """LEAD_S of silence, the speech up to its last voiced sample, TAIL_S of silence; `pause`: where
    the mid-sentence pause starts and speech resumes, in samples of `speech`."""
    rate = 16000
    lead = int(LEAD_S * rate)
    samples = np.concatenate([np.zeros(lead, np.float32), speech[: _voiced_runs(speech)[-1][1]]])
    end = len(samples) / rate
    samples = np.concatenate([samples, np.zeros(int(TAIL_S * rate), np.float32)])
    if pause is None:
        return TurnCase(text, complete, samples, end, None, None)
    start, resume = ((lead + at) / rate for at in pause)
    return TurnCase(text, complete, samples, end, start, resume)


def _piper_cases(held_out: bool) -> list[TurnCase]:
    """The same sentences in the packaged Piper voice (see the module docstring); synthesised each
    time (~0.2 s a sentence), nothing cached."""
    from piper import PiperVoice, SynthesisConfig

    from audio.pcm import resample
    from audio.tts.piper import resolve_voice

    voice = PiperVoice.load(str(resolve_voice("")), include_alignments=True)  # needs the onnx package
    # Without the generator's and the durations' random noise the set is the same on every run.
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def speak(text: str) -> tuple[np.ndarray, list[int]]:
        """16 kHz audio, and the 16 kHz sample where each space between words begins (the end of
        the word before it)."""
        audio, spaces, at = [], [], 0
        for chunk in voice.synthesize(text, steady, include_alignments=True):
            assert chunk.phoneme_alignments, "Piper gave no phoneme alignment"
            for aligned in chunk.phoneme_alignments:
                if aligned.phoneme == " ":
                    spaces.append(at)
                at += int(aligned.num_samples)
            audio.append(chunk.audio_float_array)
        rate = voice.config.sample_rate
        return resample(np.concatenate(audio), rate, 16000), [s * 16000 // rate for s in spaces]

    complete, incomplete = _sentences(held_out)
    cases = [_case(text, True, speak(text)[0]) for text in complete]
    fade = np.linspace(1.0, 0.0, 160, dtype=np.float32)  # 10 ms, so the cut does not click
    for head, tail in incomplete:
        speech, spaces = speak(f"{head} {tail}")
        # espeak-ng, Piper's phonemiser, joins some words ("for a" → one word), so count its words
        head_words = sum(phoneme == " " for sentence in voice.phonemize(head) for phoneme in sentence) + 1
        boundary = spaces[head_words - 1]  # the space after the head's last word
        before, after = speech[:boundary].copy(), speech[boundary:].copy()
        before[-160:] *= fade
        after[:160] *= fade[::-1]
        gap = int(PAUSE_MS * 16)
        joined = np.concatenate([before, np.zeros(gap, np.float32), after])
        pause_start = _voiced_runs(before)[-1][1]
        resume = boundary + gap + _voiced_runs(after)[0][0]
        cases.append(_case(f"{head} … {tail}", False, joined, (pause_start, resume)))
    return cases
