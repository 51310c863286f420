"""REST chat: staff-only, runs the real engine with history and persistence, JSON or NDJSON."""

from __future__ import annotations

import json
import uuid

import pytest

from bots.services import bot_create
from conversations.models import Conversation, Message
from conversations.services import conversation_start

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The sync test client buffers the async NDJSON stream; the ASGI test below streams it for real.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


def chat_url(bot, stream=False) -> str:
    return f"/api/bots/{bot.pk}/chat" + ("/stream" if stream else "")


def ndjson(response) -> list[dict]:
    assert response["Content-Type"] == "application/x-ndjson"
    body = b"".join(response).decode()
    return [json.loads(line) for line in body.splitlines() if line]


def test_chat_answers_and_stores_a_new_conversation(staff_api, bot, openai_double):
    openai_double.queue_text("Hello there.")
    response = staff_api.post(chat_url(bot), {"text": "hi"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "Hello there."
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.bot_id == bot.pk and conversation.test_flag is True
    assert [m.role for m in conversation.messages.all()] == ["user", "assistant"]
    assert body["message_id"] == str(conversation.messages.get(role="assistant").pk)
    assert body["metrics"]["model"] == "gpt-4o-mini"


def test_chat_resumes_a_conversation_with_its_history(staff_api, bot, openai_double):
    first = staff_api.post(chat_url(bot), {"text": "my name is Ana"}, format="json").json()
    openai_double.queue_tool_call("set_metadata", {"firstName": "Ana", "next_reply": "Noted, {{.firstName}}."})
    second = staff_api.post(
        chat_url(bot), {"text": "remember it", "conversation_id": first["conversation_id"]}, format="json"
    ).json()

    assert second["conversation_id"] == first["conversation_id"]
    assert second["text"] == "Noted, Ana."
    assert [t["type"] for t in second["tool_calls"]] == ["tool_call", "tool_result"]
    users = [i["content"] for i in openai_double.requests[1]["input"] if i.get("role") == "user"]
    assert users == ["my name is Ana", "remember it"]


def test_chat_stream_sends_ndjson_events_ending_in_done(staff_api, bot, openai_double):
    openai_double.queue_text("Streaming works fine.")
    lines = ndjson(staff_api.post(chat_url(bot, stream=True), {"text": "hi"}, format="json"))

    assert lines[0]["type"] == "conversation"
    assert lines[-1]["type"] == "done" and lines[-1]["text"] == "Streaming works fine."
    assert "".join(line["delta"] for line in lines if line["type"] == "text_delta") == "Streaming works fine."
    assert lines[-1]["conversation_id"] == lines[0]["conversation_id"]
    assert Message.objects.filter(conversation_id=lines[0]["conversation_id"], role="assistant").count() == 1


def test_chat_stream_reports_a_provider_error_as_a_line(staff_api, bot, openai_double):
    openai_double.queue_error(500)
    lines = ndjson(staff_api.post(chat_url(bot, stream=True), {"text": "hi"}, format="json"))

    assert lines[-1]["type"] == "error" and "(500)" in lines[-1]["error"]
    assert Message.objects.filter(conversation_id=lines[0]["conversation_id"], role="user").count() == 1


def test_chat_reports_a_provider_error_as_502(staff_api, bot, openai_double):
    openai_double.queue_error(401)
    response = staff_api.post(chat_url(bot), {"text": "hi"}, format="json")

    assert response.status_code == 502
    assert "rejected the API key" in response.json()["detail"]


@pytest.mark.parametrize("stream", [False, True])
def test_empty_text_is_a_400(staff_api, bot, openai_double, stream):
    response = staff_api.post(chat_url(bot, stream), {"text": "   "}, format="json")

    assert response.status_code == 400 and response.json() == {"detail": "Empty text"}
    assert Conversation.objects.count() == 0


def test_no_key_is_a_400_and_creates_nothing(staff_api, bot):
    response = staff_api.post(chat_url(bot), {"text": "hi"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "No OpenAI key configured for this bot."}
    assert Conversation.objects.count() == 0


def test_an_unknown_conversation_is_a_404(staff_api, bot, openai_double):
    response = staff_api.post(chat_url(bot), {"text": "hi", "conversation_id": str(uuid.uuid4())}, format="json")

    assert response.status_code == 404 and response.json() == {"detail": "Conversation not found"}


def test_a_conversation_of_another_bot_is_a_400(staff_api, bot, openai_double):
    other = bot_create(name="Other")
    foreign = conversation_start(bot=other)
    response = staff_api.post(chat_url(bot), {"text": "hi", "conversation_id": str(foreign.pk)}, format="json")

    assert response.status_code == 400 and response.json() == {"detail": "Conversation does not belong to bot"}
    assert not foreign.messages.exists()


def test_an_unknown_bot_is_a_404(staff_api, openai_double):
    response = staff_api.post(f"/api/bots/{uuid.uuid4()}/chat", {"text": "hi"}, format="json")

    assert response.status_code == 404 and "detail" in response.json()


@pytest.mark.parametrize("stream", [False, True])
def test_only_staff_may_chat(stranger_api, anonymous_api, bot, openai_double, stream):
    assert stranger_api.post(chat_url(bot, stream), {"text": "hi"}, format="json").status_code == 403
    assert anonymous_api.post(chat_url(bot, stream), {"text": "hi"}, format="json").status_code in (401, 403)
    assert openai_double.requests == []


async def test_chat_stream_streams_through_the_asgi_stack(async_client, staff_user, bot, openai_double):
    openai_double.queue_text("Over ASGI.")
    await async_client.aforce_login(staff_user)
    response = await async_client.post(chat_url(bot, stream=True), {"text": "hi"}, content_type="application/json")

    assert response.status_code == 200 and response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    assert len(chunks) >= 4  # one chunk per event, not one buffered body
    assert lines[-1]["type"] == "done" and lines[-1]["text"] == "Over ASGI."
