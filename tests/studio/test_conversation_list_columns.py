"""The conversation list tells conversations apart: first user message, embed user, channel with a
voice flag, message count and duration, from one annotated query per page (no query per row)."""

from __future__ import annotations

import datetime as dt
import re

from conversations.models import Message
from conversations.services import assistant_reply_store, conversation_start, message_append


def _row(html: str, conversation) -> str:
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    return next(row for row in rows if str(conversation.id)[:8] in row)


def test_it_shows_first_message_embed_user_channel_voice_count_and_duration(staff_client, bot):
    widget = conversation_start(bot=bot, test_flag=False, channel="widget", external_id="visitor-42")
    message_append(conversation=widget, role="user", content="Do you deliver to Pune?", asr_ms=300)
    assistant_reply_store(conversation=widget, text="Yes, we do.")
    message_append(conversation=widget, role="user", content="How long does it take?")
    # a state users cannot reach in a test run: the last message came 3 minutes 5 seconds after the first
    first = Message.objects.filter(conversation=widget).order_by("created_at").first()
    last = Message.objects.filter(conversation=widget).order_by("-created_at").first()
    Message.objects.filter(pk=last.pk).update(created_at=first.created_at + dt.timedelta(seconds=185))
    rest = conversation_start(bot=bot, test_flag=False, channel="rest")
    message_append(conversation=rest, role="user", content="Typed question")

    html = staff_client.get("/conversations/").content.decode()
    row = _row(html, widget)
    assert "Do you deliver to Pune?" in row and "visitor-42" in row
    assert re.search(r'data-role="channel">Widget <span class="pill pill-teal"[^>]*>voice</span>', row)
    assert ">3<" in row  # messages
    assert 'data-role="duration">3m 05s<' in row
    row = _row(html, rest)
    assert "Typed question" in row and 'data-role="channel">REST API</td>' in row
    assert 'data-role="embed-user">—<' in row and 'data-role="duration">0s<' in row


def test_the_list_costs_the_same_queries_for_one_or_many_conversations(
    staff_client, bot, django_assert_max_num_queries
):
    conversation = conversation_start(bot=bot)
    message_append(conversation=conversation, role="user", content="hello")
    with django_assert_max_num_queries(50) as one:
        staff_client.get("/conversations/")
    for n in range(12):
        other = conversation_start(bot=bot, channel="widget", external_id=f"user-{n}")
        message_append(conversation=other, role="user", content=f"question {n}")
        assistant_reply_store(conversation=other, text="answer")
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = staff_client.get("/conversations/").content.decode()
    assert "question 11" in html and "user-11" in html
