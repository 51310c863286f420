"""`/api/conversations` and `/api/conversations/<id>`: pagination bounds, filters, transcript shape."""

from __future__ import annotations

import json
import uuid

import pytest

from bots.services import bot_create
from conversations.services import assistant_reply_store, conversation_start, message_append, messages_append
from tests.user_data import conversation_with

pytestmark = pytest.mark.django_db


def test_it_lists_conversations_newest_activity_first_with_reference_fields(staff_api, bot):
    older = conversation_with(bot, metadata={"firstName": "Ada"})
    assistant_reply_store(conversation=older, text="Hi Ada.", input_tokens=12)
    newer = conversation_start(bot=bot, test_flag=False, external_id="user-1", channel="widget")

    response = staff_api.get("/api/conversations")

    assert response.status_code == 200
    body = response.json()
    assert body["page"] == 1 and body["page_size"] == 50 and body["total"] == 2
    assert [item["id"] for item in body["items"]] == [str(newer.id), str(older.id)]
    item = body["items"][1]
    assert item["bot_id"] == str(bot.id)
    assert item["bot_name"] == "Test bot"
    assert item["test_flag"] is True
    assert json.loads(item["metadata_json"]) == {"firstName": "Ada"}
    assert item["metadata"] == {"firstName": "Ada"}
    assert item["llm_input_tokens_est"] == 12
    for field in ("last_asr_ms", "last_llm_ttfb_ms", "last_llm_total_ms", "last_tts_first_audio_ms", "last_total_ms"):
        assert item[field] is None
    assert "external_id" not in item and "client_key_id" not in item


def test_it_filters_by_bot_and_test_flag(staff_api, bot):
    other = bot_create(name="Other")
    conversation_start(bot=bot, test_flag=True)
    live = conversation_start(bot=bot, test_flag=False, channel="widget")
    conversation_start(bot=other, test_flag=False, channel="widget")

    by_bot = staff_api.get(f"/api/conversations?bot_id={bot.id}").json()
    assert by_bot["total"] == 2
    live_only = staff_api.get(f"/api/conversations?bot_id={bot.id}&test_flag=false").json()
    assert [item["id"] for item in live_only["items"]] == [str(live.id)]
    assert staff_api.get("/api/conversations?test_flag=true").json()["total"] == 1
    assert staff_api.get(f"/api/conversations?bot_id={uuid.uuid4()}").json() == {
        "items": [],
        "page": 1,
        "page_size": 50,
        "total": 0,
    }


@pytest.mark.parametrize(
    ("query", "page", "page_size"),
    [("page=0&page_size=1", 1, 10), ("page=-4&page_size=5000", 1, 200), ("page=2&page_size=10", 2, 10), ("", 1, 50)],
)
def test_it_clamps_page_and_page_size(staff_api, bot, query, page, page_size):
    body = staff_api.get(f"/api/conversations?{query}").json()
    assert (body["page"], body["page_size"]) == (page, page_size)


def test_it_pages_through_results(staff_api, bot):
    created = [conversation_start(bot=bot) for _ in range(25)]
    first = staff_api.get("/api/conversations?page=1&page_size=10").json()
    third = staff_api.get("/api/conversations?page=3&page_size=10").json()
    beyond = staff_api.get("/api/conversations?page=9&page_size=10").json()
    assert first["total"] == third["total"] == 25
    assert len(first["items"]) == 10 and len(third["items"]) == 5
    second = staff_api.get("/api/conversations?page=2&page_size=10").json()
    seen = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert sorted(seen) == sorted(str(c.id) for c in created)
    assert beyond["items"] == [] and beyond["total"] == 25


@pytest.mark.parametrize(
    ("query", "field"),
    [("page=abc", "page"), ("page_size=x", "page_size"), ("bot_id=nope", "bot_id"), ("test_flag=maybe", "test_flag")],
)
def test_it_refuses_bad_query_parameters_with_a_field_error(staff_api, query, field):
    response = staff_api.get(f"/api/conversations?{query}")
    assert response.status_code == 400
    assert field in response.json()
    assert response.json()["detail"]


def test_it_shows_a_conversation_with_its_bot_and_transcript(staff_api, bot):
    conversation = conversation_with(bot, metadata={"plan": "gold"})
    message_append(conversation=conversation, role="user", content="Look me up", asr_ms=210)
    messages_append(
        conversation=conversation,
        messages=[
            {
                "role": "tool",
                "tool_name": "lookup",
                "tool_kind": "call",
                "tool_call_id": "call_1",
                "content": json.dumps({"tool": "lookup", "arguments": {"user_id": "7"}}),
            },
            {
                "role": "tool",
                "tool_name": "lookup",
                "tool_kind": "result",
                "tool_call_id": "call_1",
                "content": json.dumps({"tool": "lookup", "result": {"ok": True}}),
            },
        ],
    )
    assistant_reply_store(
        conversation=conversation,
        text="You are on gold",
        interrupted=True,
        input_tokens=40,
        output_tokens=5,
        cost_usd=0.001,
        timings_ms={"llm_ttfb": 120, "llm_total": 300, "tts_first_audio": 80, "total": 500},
    )

    response = staff_api.get(f"/api/conversations/{conversation.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["conversation"]["id"] == str(conversation.id)
    assert body["conversation"]["metadata"] == {"plan": "gold"}
    assert body["bot"]["id"] == str(bot.id) and body["bot"]["name"] == "Test bot"
    user, call, result, reply = body["messages"]
    assert user["role"] == "user" and user["tool"] is None and user["tool_kind"] is None
    assert user["metrics"]["asr"] == 210
    assert call["tool"] == {"tool": "lookup", "arguments": {"user_id": "7"}}
    assert (call["tool_name"], call["tool_kind"]) == ("lookup", "call")
    assert (result["tool_name"], result["tool_kind"]) == ("lookup", "result")
    assert reply["metrics"] == {
        "in": 40,
        "out": 5,
        "cost": 0.001,
        "asr": None,
        "llm1": 120,
        "llm": 300,
        "tts1": 80,
        "total": 500,
    }
    assert reply["interrupted"] is True and user["interrupted"] is False


def test_it_reads_a_conversation_in_a_fixed_number_of_queries(staff_api, bot, django_assert_max_num_queries):
    conversation = conversation_start(bot=bot)
    for index in range(30):
        message_append(conversation=conversation, role="user", content=f"m{index}")
    with django_assert_max_num_queries(2):
        response = staff_api.get(f"/api/conversations/{conversation.id}")
    assert len(response.json()["messages"]) == 30


def test_it_answers_404_for_an_unknown_conversation(staff_api):
    response = staff_api.get(f"/api/conversations/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_refuses_anonymous_and_non_staff_users(anonymous_api, stranger_api, bot):
    conversation = conversation_with(bot, metadata={"ssn": "123-45-6789"})
    for api in (anonymous_api, stranger_api):
        for url in ("/api/conversations", f"/api/conversations/{conversation.id}"):
            response = api.get(url)
            assert response.status_code in (401, 403)
            assert "123-45-6789" not in response.content.decode()


def test_a_huge_page_number_is_clamped_not_a_server_error(staff_api):
    """Found by the schemathesis fuzz: page=10**18 overflowed SQLite's OFFSET (500)."""
    response = staff_api.get("/api/conversations", {"page": 10**18})
    assert response.status_code == 200
    assert response.json()["items"] == []
