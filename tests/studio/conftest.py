"""Helpers for the Studio page tests: an HTMX request header and a conversation with a transcript."""

from __future__ import annotations

import json

import pytest

from bots.models import DEFAULT_CHAT_MODEL

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def conversation(bot):
    """A Studio test conversation with one spoken turn that called a tool, stored by the services the
    engine uses (so `has_voice` and the rollups are what a real turn leaves)."""
    from conversations.services import assistant_reply_store, message_append, messages_append
    from tests.user_data import conversation_with

    conv = conversation_with(bot, metadata={"firstName": "Kabir", "city": "Pune"}, test_flag=True)
    message_append(conversation=conv, role="user", content="Who am I? u_1", asr_ms=310)
    messages_append(
        conversation=conv,
        messages=[
            {
                "role": "tool",
                "tool_name": "get_user",
                "tool_kind": "call",
                "content": json.dumps({"tool": "get_user", "arguments": {"args": {"user_id": "u_1"}}}),
            },
            {
                "role": "tool",
                "tool_name": "get_user",
                "tool_kind": "result",
                "content": json.dumps({"tool": "get_user", "result": {"firstName": "Kabir"}}),
            },
        ],
    )
    assistant_reply_store(
        conversation=conv,
        text="You are Kabir Verma.",
        input_tokens=120,
        output_tokens=30,
        cost_usd=0.000123,
        timings_ms={"llm_ttfb": 420, "total": 1830},
    )
    conv.refresh_from_db()
    return conv


def bot_form_post(**overrides):
    """The new-bot form as a browser posts it after only the name was typed (the defaults as rendered)."""
    return {
        "name": "Helper",
        "system_prompt": "You help.",
        "openai_model": DEFAULT_CHAT_MODEL,
        "web_search_model": "gpt-4o-mini",
        "codex_model": "gpt-5.1-codex-mini",
        "openai_key": "",
        "start_message_mode": "llm",
        "start_message_text": "",
        "asr_engine": "faster_whisper",
        "language": "en",
        "whisper_model": "tiny.en",
        "whisper_device": "auto",
        "tts_vendor": "piper",
        "tts_voice": "",
        "tts_language": "en",
        "xtts_model": "tts_models/multilingual/multi-dataset/xtts_v2",
        "speaker_id": "",
        "speaker_wav": "",
        "openai_tts_model": "gpt-4o-mini-tts",
        "openai_tts_voice": "alloy",
        "openai_tts_speed": "1.0",
        "tts_chunk_min_chars": "20",
        "tts_chunk_max_chars": "120",
        **overrides,
    }
