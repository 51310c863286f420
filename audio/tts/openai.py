"""OpenAI TTS (`audio.speech`) through the official SDK, for bots that want a hosted voice.

We ask for WAV and report the rate the WAV header says (the reference always claimed 24000).
"""

from __future__ import annotations

import threading

import numpy as np
from django.conf import settings

from audio.pcm import AudioDecodeError, decode_audio, pcm16_to_float32
from audio.tts.base import TtsError, TtsSpec
from conversations.engine.provider_http import guarded_sync_http_client

_OPENAI_TTS_RATE = 24000  # documented rate of response_format=pcm and of OpenAI's WAV


class OpenAITts:
    def __init__(self, spec: TtsSpec) -> None:
        import openai

        if not spec.api_key:
            raise TtsError("No OpenAI key configured for this bot (set the bot's key or OPENAI_API_KEY)")
        self.spec = spec
        self._client = openai.OpenAI(
            api_key=spec.api_key,
            base_url=spec.base_url or None,
            timeout=settings.VOICEBOT_OPENAI_TIMEOUT_S,
            max_retries=settings.VOICEBOT_OPENAI_MAX_RETRIES,
            http_client=guarded_sync_http_client(),  # metadata/link-local peers refused at connect time
        )
        self.sample_rate = _OPENAI_TTS_RATE
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> np.ndarray:
        import openai

        try:
            response = self._client.audio.speech.create(
                model=self.spec.model or "gpt-4o-mini-tts",
                voice=self.spec.voice or "alloy",
                input=text,
                response_format="wav",
                speed=self.spec.speed or 1.0,
            )
            data = response.content
        except openai.OpenAIError as exc:
            raise TtsError(f"OpenAI TTS failed: {exc}") from exc
        try:
            samples, rate = decode_audio(data)
        except AudioDecodeError:
            # A streamed WAV may carry an unknown data length; read it as header + PCM16.
            samples, rate = pcm16_to_float32(data[44:]), _OPENAI_TTS_RATE
        with self._lock:
            self.sample_rate = rate
        return samples
