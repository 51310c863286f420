"""The conversation session through each transport, the way clients arrive: three quick messages
get three answers in order on the Studio talk socket and over REST; "not found" is the same 404 on
every REST path; the talk socket's `debug` and `test_flag` toggles; each transport records its channel."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import wave

import pytest
from asgiref.sync import sync_to_async

from bots import services as bot_services
from conversations.models import Conversation, Message
from tests.audio.test_talk_socket import _connect, _events_until, _send

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


@pytest.fixture
def chat_bot(db):
    """A bot made the way the Studio and the API make one (validators run)."""
    return bot_services.bot_create(name="Session bot", system_prompt="You answer briefly.", openai_model="gpt-4o-mini")


@sync_to_async
def _user_messages(conversation_id) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, role="user")
        .order_by("created_at")
        .values_list("content", flat=True)
    )


@sync_to_async
def _conversation(conversation_id) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


async def test_three_quick_messages_on_the_talk_socket_are_answered_in_order(chat_bot, staff_user, openai_double):
    openai_double.queue_text("One.", ttft_s=0.4)
    openai_double.queue_text("Two.")
    openai_double.queue_text("Three.")
    ws = await _connect(chat_bot, staff_user)
    await _send(ws, type="chat", req_id="m1", text="first", speak=False)
    started = json.loads(await ws.receive_from(timeout=10))
    conversation_id = started["conversation_id"]
    for n, text in ((2, "second"), (3, "third")):
        await _send(ws, type="chat", req_id=f"m{n}", text=text, speak=False, conversation_id=conversation_id)

    events = []
    while len([e for e in events if e["type"] == "status" and e.get("stage") == "idle"]) < 3:
        events.append(json.loads(await ws.receive_from(timeout=20)))
    await ws.disconnect()

    dones = [(e["req_id"], e["text"]) for e in events if e["type"] == "done"]
    assert dones == [("m1", "One."), ("m2", "Two."), ("m3", "Three.")]
    assert not [e for e in events if e["type"] == "error"]
    assert await _user_messages(conversation_id) == ["first", "second", "third"]
    assert (await _conversation(conversation_id)).channel == "studio"


async def test_the_talk_socket_debug_toggle_emits_the_model_request_and_test_flag_is_stored(
    chat_bot, staff_user, openai_double
):
    openai_double.queue_text("Hello.")
    ws = await _connect(chat_bot, staff_user)
    await _send(ws, type="chat", req_id="d", text="hi", speak=False, debug=True, test_flag=False)
    events = await _events_until(ws)
    await ws.disconnect()

    debug = [e for e in events if e["type"] == "tool_call" and e["name"] == "debug_llm_request"]
    assert len(debug) == 1
    payload = json.loads(debug[0]["arguments_json"])
    assert payload["phase"] == "chat_llm" and payload["payload"]["model"] == "gpt-4o-mini"
    conversation = await _conversation(events[0]["conversation_id"])
    assert conversation.test_flag is False


async def test_three_quick_rest_chats_are_answered_in_order(async_client, chat_bot, staff_user, openai_double):
    await async_client.aforce_login(staff_user)
    openai_double.queue_text("Created.")
    first = await async_client.post(f"/api/bots/{chat_bot.pk}/chat", {"text": "hello"}, content_type="application/json")
    conversation_id = first.json()["conversation_id"]
    openai_double.queue_text("One.", ttft_s=0.4)
    openai_double.queue_text("Two.")
    openai_double.queue_text("Three.")

    async def chat(text: str, delay: float):
        await asyncio.sleep(delay)
        response = await async_client.post(
            f"/api/bots/{chat_bot.pk}/chat",
            {"text": text, "conversation_id": conversation_id},
            content_type="application/json",
        )
        return response.status_code, response.json()["text"]

    answers = await asyncio.gather(chat("a", 0), chat("b", 0.1), chat("c", 0.2))

    assert answers == [(200, "One."), (200, "Two."), (200, "Three.")]
    assert await _user_messages(conversation_id) == ["hello", "a", "b", "c"]
    assert (await _conversation(conversation_id)).channel == "rest"


def _silence_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x00" * 1600)
    return buffer.getvalue()


def test_conversation_not_found_is_the_same_404_on_every_rest_path(staff_api, chat_bot, openai_double):
    from django.core.files.uploadedfile import SimpleUploadedFile

    missing = str(uuid.uuid4())
    responses = [
        staff_api.post(f"/api/bots/{chat_bot.pk}/chat", {"text": "hi", "conversation_id": missing}, format="json"),
        staff_api.post(
            f"/api/bots/{chat_bot.pk}/chat/stream", {"text": "hi", "conversation_id": missing}, format="json"
        ),
        staff_api.post(
            f"/api/bots/{chat_bot.pk}/talk/stream",
            {"audio": SimpleUploadedFile("a.wav", _silence_wav()), "conversation_id": missing},
            format="multipart",
        ),
    ]
    assert [(r.status_code, r.json()) for r in responses] == [(404, {"detail": "Conversation not found"})] * 3
    assert not Conversation.objects.exists()  # nothing created on a 4xx
