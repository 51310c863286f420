"""Transcription while the user speaks (audio/streaming_asr.py), on the packaged tiny.en model."""

from __future__ import annotations

import numpy as np
import pytest

from audio.asr import AsrSpec
from audio.pcm import float32_to_pcm16
from audio.streaming_asr import StreamingTranscriber, common_prefix
from tests.audio.conftest import QUESTION, words

pytestmark = pytest.mark.voice
CHUNK = 16000 * 2 // 5  # 200 ms of PCM16


async def _speak(transcriber: StreamingTranscriber, pcm: bytes) -> None:
    """Push in 200 ms pieces, letting each scheduled decode finish (as it would in real time)."""
    for i in range(0, len(pcm), CHUNK):
        transcriber.push(pcm[i : i + CHUNK])
        await transcriber.idle()


def test_common_prefix_is_what_two_decodes_agree_on():
    assert common_prefix(["what", "time", "does"], ["what", "time", "is"]) == ["what", "time"]
    assert common_prefix([], ["a"]) == []


async def test_it_reports_partials_while_speaking_and_reuses_the_pause_decode(asr_model_dir, question_pcm16):
    partials: list[tuple[str, str]] = []
    pauses: list[str] = []
    transcriber = StreamingTranscriber(
        AsrSpec("faster_whisper", asr_model_dir, "cpu"),
        "en",
        partial_interval_ms=600,
        on_partial=lambda text, stable: partials.append((text, stable)),
        on_pause=pauses.append,
    )
    await _speak(transcriber, question_pcm16)  # ends with 300 ms of silence: a pause decode
    final = await transcriber.final()
    assert words(final.text) == words(QUESTION)
    assert final.reused and final.asr_ms < 50  # nothing left to decode after the end of speech
    assert len(partials) >= 2 and words(partials[-1][0]) == words(QUESTION)
    assert len(words(partials[0][0])) < len(words(QUESTION))  # an early partial had only the start
    assert pauses and words(pauses[-1]) == words(QUESTION)
    assert all(text.startswith(stable) for text, stable in partials)


async def test_it_decodes_what_no_decode_covered_when_speech_runs_to_the_stop(asr_model_dir, question_pcm16):
    transcriber = StreamingTranscriber(AsrSpec("faster_whisper", asr_model_dir, "cpu"), "en", partial_interval_ms=800)
    cut = len(question_pcm16) * 6 // 10 // 2 * 2  # stopped mid-word: no silence, no pause decode
    await _speak(transcriber, question_pcm16[:cut])
    before = transcriber.decodes
    final = await transcriber.final()
    assert not final.reused and final.decodes == before + 1
    assert words(final.text)[:2] == words(QUESTION)[:2]


async def test_a_long_utterance_commits_at_pauses_and_decodes_only_the_tail(asr_model_dir, question_pcm16):
    transcriber = StreamingTranscriber(
        AsrSpec("faster_whisper", asr_model_dir, "cpu"), "en", partial_interval_ms=1000, commit_s=1.0
    )
    pause = float32_to_pcm16(np.zeros(8000, dtype=np.float32))  # 500 ms
    await _speak(transcriber, question_pcm16 + pause)
    assert transcriber._committed_at > 0  # the first sentence is committed
    await _speak(transcriber, question_pcm16)
    final = await transcriber.final()
    assert words(final.text) == words(QUESTION) * 2, final


async def test_silence_alone_gives_an_empty_transcript_without_decoding(asr_model_dir):
    transcriber = StreamingTranscriber(AsrSpec("faster_whisper", asr_model_dir, "cpu"), "en")
    await _speak(transcriber, b"\x00\x00" * 16000)
    final = await transcriber.final()
    assert final.text == "" and final.decodes == 0
