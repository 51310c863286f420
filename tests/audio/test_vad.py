from __future__ import annotations

import numpy as np

from audio.pcm import float32_to_pcm16
from audio.vad import SpeechStarted, Utterance, VadParams, VadSegmenter


def _silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(16000 * seconds)


def _feed_in_frames(segmenter: VadSegmenter, pcm: bytes, frame_bytes: int = 1000) -> list:
    events = []
    for i in range(0, len(pcm), frame_bytes):  # odd-sized pieces, like a real stream
        events.extend(segmenter.feed(pcm[i : i + frame_bytes]))
    return events


def test_it_finds_one_utterance_in_speech_followed_by_silence(question_pcm16):
    events = _feed_in_frames(VadSegmenter(), _silence(0.5) + question_pcm16 + _silence(1.2))
    assert isinstance(events[0], SpeechStarted)
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 1
    assert 1500 <= utterances[0].speech_ms <= 4000


def test_it_ignores_silence():
    assert _feed_in_frames(VadSegmenter(), _silence(2.0)) == []


def test_it_drops_a_click_shorter_than_min_speech():
    rng = np.random.default_rng(1)
    click = float32_to_pcm16(rng.uniform(-0.8, 0.8, 1600).astype(np.float32))  # 100 ms of noise
    events = _feed_in_frames(VadSegmenter(VadParams(min_speech_ms=1000)), click + _silence(1.5))
    assert not [e for e in events if isinstance(e, Utterance)]


def test_it_ends_an_utterance_in_progress_on_flush(question_pcm16):
    segmenter = VadSegmenter()
    segmenter.feed(question_pcm16)
    assert [type(e) for e in segmenter.flush()] == [Utterance]
