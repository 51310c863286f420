"""The conversation list (filters, search, pagination, HTMX partial), the transcript page and the export."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

from conversations.models import Conversation
from conversations.services import conversation_start, message_append
from tests.studio.conftest import HTMX


def test_it_lists_conversations_with_bot_kind_and_cost(staff_client, conversation):
    html = staff_client.get("/conversations/").content.decode()
    assert str(conversation.id)[:8] in html
    assert "Test bot" in html and ">test<" in html and "$0.000123" in html
    assert "Showing 1–1 of 1" in html


def test_it_filters_by_kind_bot_date_and_message_text(staff_client, bot, conversation):
    live = conversation_start(bot=bot, test_flag=False, channel="widget")
    message_append(conversation=live, role="user", content="I need a cardiologist in Pune")
    old = conversation_start(bot=bot, test_flag=False, channel="widget")
    # a state users cannot reach: a conversation started 30 days ago
    Conversation.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30))

    def ids(query):
        html = staff_client.get("/conversations/?" + query).content.decode()
        return {c for c in (conversation, live, old) if str(c.id)[:8] in html}

    assert ids("kind=live") == {live, old}
    assert ids("kind=test") == {conversation}
    assert ids("q=cardiolog") == {live}
    assert ids("q=nothing-matches") == set()
    today = timezone.localdate().isoformat()
    assert ids(f"date_from={today}") == {conversation, live}
    assert ids(f"bot={bot.id}&kind=live&date_to={today}") == {live, old}


def test_it_says_when_a_filter_is_invalid_and_ignores_it(staff_client, conversation):
    response = staff_client.get("/conversations/?date_from=2026-02-10&date_to=2026-01-01&bot=not-a-uuid")
    assert response.status_code == 200
    html = response.content.decode()
    assert "The end date is before the start date." in html
    assert "is not a valid UUID." in html


def test_it_paginates(staff_client, bot):
    for _ in range(30):
        conversation_start(bot=bot)
    html = staff_client.get("/conversations/?page_size=25").content.decode()
    assert "Showing 1–25 of 30" in html and "page 1/2" in html and "page_size=25&amp;page=2" in html
    html = staff_client.get("/conversations/?page_size=25&page=2").content.decode()
    assert "Showing 26–30 of 30" in html


def test_it_answers_filters_with_only_the_results_for_htmx(staff_client, conversation):
    response = staff_client.get("/conversations/?kind=test", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Showing 1–1 of 1" in html


def test_it_shows_the_transcript_with_tools_folded_metadata_and_metrics(staff_client, conversation):
    html = staff_client.get(f"/conversations/{conversation.id}/").content.decode()
    assert "Who am I? u_1" in html and "You are Kabir Verma." in html
    assert "tool call" in html and "tool result" in html and "<details>" in html
    assert "&quot;user_id&quot;: &quot;u_1&quot;" in html
    assert "&quot;firstName&quot;: &quot;Kabir&quot;" in html  # metadata block
    assert "tok in 120 • out 30 • cost $0.000123 • LLM 1st 420ms • total 1.83s" in html
    assert "ASR 310ms" in html
    assert "LLM 1st 420ms • total 1.83s" in html  # last latency summary


def test_it_exports_a_transcript_as_json(staff_client, conversation):
    response = staff_client.get(f"/conversations/{conversation.id}/export.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{conversation.id}.json"'
    data = json.loads(response.content)
    assert data["conversation"]["metadata"] == {"firstName": "Kabir", "city": "Pune"}
    assert [m["role"] for m in data["messages"]] == ["user", "tool", "tool", "assistant"]
    assert data["messages"][1]["tool"] == {"tool": "get_user", "arguments": {"args": {"user_id": "u_1"}}}
    assert data["messages"][3]["metrics"]["llm1"] == 420


def test_it_answers_404_for_an_unknown_conversation(staff_client):
    missing = "00000000-0000-0000-0000-000000000000"
    assert staff_client.get(f"/conversations/{missing}/").status_code == 404
    assert staff_client.get(f"/conversations/{missing}/export.json").status_code == 404
