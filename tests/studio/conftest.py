"""Helpers for the Studio page tests: an HTMX request header and a conversation with a transcript."""

from __future__ import annotations

import json

import pytest

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def conversation(bot):
    from conversations.models import Conversation, Message

    conv = Conversation.objects.create(
        bot=bot,
        test_flag=True,
        metadata={"firstName": "Kabir", "city": "Pune"},
        llm_input_tokens_est=120,
        llm_output_tokens_est=30,
        cost_usd_est=0.000123,
        last_llm_ttfb_ms=420,
        last_total_ms=1830,
    )
    Message.objects.create(conversation=conv, role="user", content="Who am I? u_1", asr_ms=310)
    Message.objects.create(
        conversation=conv,
        role="tool",
        tool_name="get_user",
        tool_kind="call",
        content=json.dumps({"tool": "get_user", "arguments": {"args": {"user_id": "u_1"}}}),
    )
    Message.objects.create(
        conversation=conv,
        role="tool",
        tool_name="get_user",
        tool_kind="result",
        content=json.dumps({"tool": "get_user", "result": {"firstName": "Kabir"}}),
    )
    Message.objects.create(
        conversation=conv,
        role="assistant",
        content="You are Kabir Verma.",
        input_tokens_est=120,
        output_tokens_est=30,
        cost_usd_est=0.000123,
        llm_ttfb_ms=420,
        total_ms=1830,
    )
    return conv
