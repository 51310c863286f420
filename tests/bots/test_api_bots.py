"""`/api/bots` and `/api/bots/<id>`: the reference's shapes, staff only, real validation errors."""

from __future__ import annotations

import uuid

import pytest

from bots.models import Bot, ProviderKey
from bots.services import bot_create, bot_update, provider_key_create
from conversations.models import Conversation, Message
from conversations.services import conversation_start, message_append
from integrations.models import IntegrationTool
from tests.integrations.conftest import make_tool
from tests.user_data import finished_turn

pytestmark = pytest.mark.django_db


def make_key(name: str = "main") -> ProviderKey:
    return provider_key_create(name=name, secret="sk-test-abcdefghijklmnop")


def test_it_creates_a_bot_with_the_defaults(staff_api):
    response = staff_api.post("/api/bots", {"name": "Helper", "system_prompt": "Be brief."}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Helper"
    assert body["system_prompt"] == "Be brief."
    assert body["openai_model"] == "gpt-4.1-mini"  # fast, not the reference's reasoning o4-mini
    assert body["web_search_model"] == "gpt-4o-mini"
    assert body["codex_model"] == "gpt-5.1-codex-mini"
    assert body["disabled_tools"] == ["web_search"]  # no search backend configured
    assert body["openai_key_id"] is None  # no key stored
    assert body["openai_tts_speed"] == 1.0
    assert body["tts_vendor"] == "piper"
    assert body["asr_engine"] == "faster_whisper"
    assert Bot.objects.filter(pk=body["id"], name="Helper").exists()


def test_it_accepts_the_legacy_engine_names(staff_api):
    response = staff_api.post(
        "/api/bots", {"name": "Legacy", "tts_vendor": "xtts_local", "asr_engine": "whisper_local"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["tts_vendor"] == "xtts_local"  # an old client reads back what it sent
    assert response.json()["asr_engine"] == "whisper"
    bot_id = response.json()["id"]
    assert Bot.objects.get(pk=bot_id).tts_vendor == "xtts"  # stored under this build's name
    response = staff_api.put(f"/api/bots/{bot_id}", {"tts_vendor": "openai_tts"}, format="json")
    assert response.json()["tts_vendor"] == "openai_tts"
    assert staff_api.get(f"/api/bots/{bot_id}").json()["tts_vendor"] == "openai"
    response = staff_api.put(f"/api/bots/{bot_id}", {"name": "Legacy 2"}, format="json")
    assert response.json()["tts_vendor"] == "openai"


def test_it_lists_bots_with_stats_newest_change_first(staff_api, bot):
    other = bot_create(name="Quiet bot")
    finished_turn(
        conversation_start(bot=bot),
        input_tokens=100,
        output_tokens=20,
        cost_usd=0.5,
        timings_ms={"llm_ttfb": 100, "total": 900},
    )
    finished_turn(
        conversation_start(bot=bot), input_tokens=50, output_tokens=5, cost_usd=0.25, timings_ms={"llm_ttfb": 201}
    )
    bot_update(bot=bot, system_prompt="You help {{.firstName}}.")  # saved again in the editor: changed last

    response = staff_api.get("/api/bots")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["name"] for item in items] == ["Test bot", "Quiet bot"]
    assert items[0]["stats"] == {
        "conversations": 2,
        "input_tokens": 150,
        "output_tokens": 25,
        "cost_usd": 0.75,
        "avg_llm_ttfb_ms": 150,
        "avg_llm_total_ms": None,
        "avg_total_ms": 900,
    }
    assert items[1]["id"] == str(other.id)
    assert items[1]["stats"] == {
        "conversations": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "avg_llm_ttfb_ms": None,
        "avg_llm_total_ms": None,
        "avg_total_ms": None,
    }


def test_it_lists_bots_with_one_query(staff_api, bot, django_assert_max_num_queries):
    for index in range(5):
        conversation_start(bot=bot_create(name=f"bot {index}"))
    with django_assert_max_num_queries(3):  # session/user lookups are not made with force_authenticate
        response = staff_api.get("/api/bots")
    assert len(response.json()["items"]) == 6


def test_it_reads_a_bot(staff_api, bot):
    response = staff_api.get(f"/api/bots/{bot.id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(bot.id)
    assert response.json()["system_prompt"] == "You help {{.firstName}}."
    assert "stats" not in response.json()


def test_it_updates_only_the_fields_sent(staff_api, bot):
    key = make_key()
    response = staff_api.put(
        f"/api/bots/{bot.id}",
        {
            "name": "  Renamed ",
            "openai_key_id": str(key.id),
            "disabled_tools": ["web_search", " web_search", "set_metadata", "", "export_http_response"],
            "speaker_wav": "",
            "openai_tts_speed": None,
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["openai_key_id"] == str(key.id)
    assert body["disabled_tools"] == ["export_http_response", "web_search"]
    assert body["speaker_wav"] is None
    assert body["openai_tts_speed"] == 1.0
    assert body["system_prompt"] == "You help {{.firstName}}."
    bot.refresh_from_db()
    assert bot.openai_key_id == key.id
    assert bot.disabled_tools == ["export_http_response", "web_search"]


def test_it_clears_the_key_with_null(staff_api, bot):
    bot_update(bot=bot, openai_key_id=make_key().id)
    response = staff_api.put(f"/api/bots/{bot.id}", {"openai_key_id": None}, format="json")
    assert response.status_code == 200
    assert response.json()["openai_key_id"] is None


def test_it_refuses_null_on_a_required_field_with_a_field_error(staff_api, bot):
    response = staff_api.put(f"/api/bots/{bot.id}", {"name": None}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert response.json()["detail"].startswith("name:")
    bot.refresh_from_db()
    assert bot.name == "Test bot"


def test_it_refuses_an_unknown_key_id(staff_api, bot):
    response = staff_api.put(f"/api/bots/{bot.id}", {"openai_key_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 400
    assert "openai_key_id" in response.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "ok", "tts_vendor": "espeak"}, "tts_vendor"),
        ({"name": "ok", "start_message_mode": "loud"}, "start_message_mode"),
        ({"name": "ok", "openai_model": "bad model name!"}, "openai_model"),
        ({"name": "ok", "openai_tts_speed": 9}, "openai_tts_speed"),
        ({"name": "ok", "tts_chunk_min_chars": 500, "tts_chunk_max_chars": 100}, "tts_chunk_min_chars"),
        ({"name": "ok", "disabled_tools": ["bad name!"]}, "disabled_tools"),
        ({"name": "ok", "openai_key_id": "not-a-uuid"}, "openai_key_id"),
        ({"system_prompt": "no name"}, "name"),
    ],
)
def test_it_refuses_invalid_bot_fields_with_a_field_error(staff_api, payload, field):
    response = staff_api.post("/api/bots", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert response.json()["detail"]
    assert not Bot.objects.exists()


def test_it_answers_404_for_an_unknown_bot(staff_api):
    missing = uuid.uuid4()
    assert staff_api.get(f"/api/bots/{missing}").status_code == 404
    assert staff_api.put(f"/api/bots/{missing}", {"name": "x"}, format="json").status_code == 404
    response = staff_api.delete(f"/api/bots/{missing}")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_deletes_a_bot_with_its_conversations_messages_and_tools(staff_api, bot):
    conversation = conversation_start(bot=bot)
    message_append(conversation=conversation, role="user", content="hi")
    make_tool(bot, name="lookup", url="https://api.example.com/x")
    keep = bot_create(name="Keep")
    kept_conversation = conversation_start(bot=keep)

    response = staff_api.delete(f"/api/bots/{bot.id}")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert not Bot.objects.filter(pk=bot.id).exists()
    assert not Conversation.objects.filter(bot_id=bot.id).exists()
    assert not Message.objects.filter(conversation_id=conversation.id).exists()
    assert not IntegrationTool.objects.filter(bot_id=bot.id).exists()
    assert Conversation.objects.filter(pk=kept_conversation.pk).exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/bots"),
        ("post", "/api/bots"),
        ("get", "/api/bots/{id}"),
        ("put", "/api/bots/{id}"),
        ("delete", "/api/bots/{id}"),
    ],
)
def test_it_refuses_anonymous_and_non_staff_users(anonymous_api, stranger_api, bot, method, path):
    url = path.format(id=bot.id)
    for api in (anonymous_api, stranger_api):
        response = getattr(api, method)(url, {"name": "x"}, format="json")
        assert response.status_code in (401, 403)
        assert "detail" in response.json()
    bot.refresh_from_db()
    assert bot.name == "Test bot"
