"""`manage.py voicebot_import_reference`: a database in the reference's schema (INVENTORY §1), imported
with its ids, keeps its clients working: the old client secret opens the public socket, the old
provider key decrypts and reaches the model, the conversations read in the Studio, and a site-signed
user_token reopens an imported widget conversation. Twice imports nothing new; a dry run writes nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from bots.models import Bot, ProviderKey
from conversations.models import Conversation, Message
from embed import ownership, services
from embed.models import ClientKey
from integrations.models import IntegrationTool
from tests.studio.reference_db import ReferenceDb

pytestmark = pytest.mark.django_db(transaction=True)

REFERENCE_KEY = Fernet.generate_key().decode()
PROVIDER_SECRET = "sk-proj-reference-0123456789abcdef"
CLIENT_SECRET = "igx_reference-client-secret-0123456789"
ORIGIN = "https://shop.example.com"
T0 = datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def reference(tmp_path):
    """A reference voicebot.db: two bots (one with tools and a stored key), a client key, a widget
    conversation of user `user_123` with a tool turn, a Studio conversation, and an orphan message."""
    ref = ReferenceDb(tmp_path / "voicebot.db", REFERENCE_KEY)
    ids = {"path": ref.path}
    ids["key"] = ref.add_api_key(name="Main key", secret=PROVIDER_SECRET, created_at=T0)
    ids["other_provider"] = ref.add_api_key(name="Other", secret="x" * 20, created_at=T0, provider="anthropic")
    ids["shop"] = ref.add_bot(
        name="Shop bot",
        created_at=T0,
        openai_model="gpt-4o-mini",
        openai_key_id=ids["key"],
        system_prompt="You help {{.firstName}} at the shop.",
        disabled_tools_json='["web_search", "set_metadata"]',
        start_message_mode="static",
        start_message_text="Welcome back to the shop!",
    )
    ids["old"] = ref.add_bot(
        name="Old bot",
        created_at=T0 + timedelta(hours=1),
        web_search_model="",
        codex_model="gpt-5-codex-mini",
        tts_vendor="openai_tts",
        start_message_mode="sometimes",
    )
    ids["tool"] = ref.add_tool(
        bot_id=ids["shop"],
        name="get_user",
        url="http://127.0.0.1:9001/v1/user?user_id={{args.user_id}}",
        created_at=T0,
        description="Fetch the user's profile.",
        args_required_json='["user_id"]',
        headers_template_json='{"Authorization": "Bearer tok-123456"}',
        response_mapper_json='{"firstName": "{{response.data.firstName}}"}',
        parameters_schema_json="not json",
    )
    ids["shadowing_tool"] = ref.add_tool(bot_id=ids["shop"], name="web_search", url="http://x.test/", created_at=T0)
    ids["client_key"] = ref.add_client_key(
        name="Acme site", secret=CLIENT_SECRET, created_at=T0, allowed_origins=ORIGIN, allowed_bot_ids=[ids["shop"]]
    )
    ids["widget"] = ref.add_conversation(
        bot_id=ids["shop"],
        created_at=T0,
        test_flag=0,
        external_id="user_123",
        client_key_id=ids["client_key"],
        metadata_json=json.dumps({"firstName": "Ana"}),
        llm_input_tokens_est=120,
        llm_output_tokens_est=30,
        cost_usd_est=0.00042,
    )
    turns = [
        ("assistant", "Welcome!"),
        ("user", "hi, I am Ana"),
        ("tool", json.dumps({"tool": "set_metadata", "arguments": {"firstName": "Ana", "next_reply": "Hi Ana"}})),
        ("tool", json.dumps({"tool": "set_metadata", "result": {"ok": True, "updated": {"firstName": "Ana"}}})),
        ("assistant", "Nice to meet you, Ana!"),
    ]
    ids["messages"] = [
        ref.add_message(conversation_id=ids["widget"], role=role, content=content, created_at=T0 + timedelta(seconds=n))
        for n, (role, content) in enumerate(turns)
    ]
    ids["studio"] = ref.add_conversation(bot_id=ids["old"], created_at=T0, test_flag=1)
    ref.add_message(conversation_id=ids["studio"], role="user", content="spoken words", created_at=T0, asr_ms=310)
    ids["orphan"] = ref.add_message(conversation_id=ids["studio"].hex[::-1], role="user", content="x", created_at=T0)
    ref.close()
    return ids


def _import(monkeypatch, path, *args: str) -> str:
    monkeypatch.setenv("REFERENCE_SECRET_KEY", REFERENCE_KEY)
    out = StringIO()
    call_command("voicebot_import_reference", str(path), *args, stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (ProviderKey, Bot, IntegrationTool, ClientKey, Conversation, Message)
    }


def _signing_secret(output: str, key_id) -> str:
    match = re.search(rf"\({key_id}\): (igxs_\S+)", output)
    assert match, output
    return match.group(1)


async def _socket(bot_id, **query) -> WebsocketCommunicator:
    from config.asgi import application

    url = f"/public/v1/ws/bots/{bot_id}/chat?{urlencode(query)}"
    communicator = WebsocketCommunicator(application, url, headers=[(b"origin", ORIGIN.encode())])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def _until_idle(communicator: WebsocketCommunicator) -> list[dict]:
    events = []
    while True:
        event = await communicator.receive_json_from(timeout=15)
        events.append(event)
        if event["type"] == "status" and event["stage"] == "idle":
            return events


def test_a_dry_run_reports_what_it_would_import_and_writes_nothing(monkeypatch, reference):
    before = _row_counts()
    output = _import(monkeypatch, reference["path"], "--dry-run")

    assert _row_counts() == before
    assert "dry run: nothing was written" in output
    assert re.search(r"bots\s+2 would import", output)
    assert re.search(r"messages\s+6 would import", output)
    assert "igxs_" not in output  # no signing secret is handed out for a key that was not stored


def test_the_import_keeps_ids_and_clients_working_and_a_second_run_adds_nothing(
    monkeypatch, reference, openai_double, staff_client, settings
):
    output = _import(monkeypatch, reference["path"])

    # --- the report: counts, and every skip with its reason
    assert re.search(r"provider keys\s+1 imported, +0 already present, +1 skipped", output)
    assert re.search(r"bots\s+2 imported", output)
    assert re.search(r"integration tools\s+1 imported, +0 already present, +1 skipped", output)
    assert re.search(r"conversations\s+2 imported", output)
    assert re.search(r"messages\s+6 imported, +0 already present, +1 skipped", output)
    assert "provider 'anthropic' is not supported" in output
    assert "'web_search' is a system tool name" in output
    assert f"message {reference['orphan']}: its conversation" in output
    assert "greeting mode 'sometimes' is unknown" in output
    assert "parameters_schema refused" in output

    # --- ids kept; values mapped to this build's names
    shop = Bot.objects.get(pk=reference["shop"])
    assert shop.name == "Shop bot" and shop.tts_vendor == "xtts" and shop.asr_engine == "whisper"
    assert shop.disabled_tools == ["web_search"] and shop.created_at == T0
    old = Bot.objects.get(pk=reference["old"])
    assert old.web_search_model == old.openai_model and old.codex_model == "gpt-5.1-codex-mini"
    assert old.tts_vendor == "openai" and old.start_message_mode == "llm"

    # --- the provider key decrypts (now under VOICEBOT_SECRET_KEY) and is the bot's key
    key = ProviderKey.objects.get(pk=reference["key"])
    assert key.get_secret() == PROVIDER_SECRET and shop.openai_key_id == key.id
    assert PROVIDER_SECRET not in key.secret_ciphertext and key.hint == "sk-p********cdef"

    # --- the tool: headers encrypted here, an invalid schema dropped
    tool = IntegrationTool.objects.get(pk=reference["tool"])
    assert json.loads(tool.get_headers_template()) == {"Authorization": "Bearer tok-123456"}
    assert "tok-123456" not in tool.headers_ciphertext and tool.parameters_schema is None
    assert tool.args_required == ["user_id"] and tool.bot_id == shop.id

    # --- the client key: the reference's SHA-256, marked legacy; a new signing secret reported once
    client_key = ClientKey.objects.get(pk=reference["client_key"])
    assert client_key.legacy_sha256 and client_key.origins == [ORIGIN]
    assert client_key.allowed_bot_ids == [str(shop.id)]
    signing_secret = _signing_secret(output, client_key.id)
    assert client_key.get_signing_secret() == signing_secret

    # --- the widget conversation belongs to the site user (reopened only with a signed user_token)
    widget = Conversation.objects.get(pk=reference["widget"])
    assert widget.channel == "widget" and widget.visitor_proof == "site" and widget.metadata == {"firstName": "Ana"}
    assert widget.external_id == "user_123" and widget.client_key_id == client_key.id and not widget.test_flag
    stored = list(widget.messages.order_by("created_at").values_list("id", "role", "tool_kind"))
    assert [m[0] for m in stored] == reference["messages"]
    assert [m[1:] for m in stored][2:4] == [("tool", "call"), ("tool", "result")]
    studio = Conversation.objects.get(pk=reference["studio"])
    assert studio.channel == "studio" and studio.has_voice and studio.visitor_proof == ""

    # --- the Studio shows the imported conversation with its messages
    html = staff_client.get(f"/conversations/{widget.id}/").content.decode()
    assert "hi, I am Ana" in html and "Nice to meet you, Ana!" in html and "set_metadata" in html
    assert str(widget.id)[:8] in staff_client.get("/conversations/").content.decode()

    # --- a second run adds nothing and hands out no new secret
    counts = _row_counts()
    again = _import(monkeypatch, reference["path"])
    assert _row_counts() == counts
    assert re.search(r"messages\s+0 imported, +6 already present", again)
    assert re.search(r"bots\s+0 imported, +2 already present", again) and "igxs_" not in again

    # --- the old snippet works: the old client secret opens the public socket and the bot answers
    # through its imported provider key (pointed at the loopback double for the test)
    ProviderKey.objects.filter(pk=key.pk).update(base_url=openai_double.base_url)
    openai_double.queue_text("Yes, we sell blue mugs.")

    async def visit() -> tuple[list[dict], list[dict]]:
        ws = await _socket(shop.id, key=CLIENT_SECRET, user_conversation_id="user_123")
        await ws.send_json_to({"type": "start", "req_id": "s1"})
        started = await _until_idle(ws)
        await ws.send_json_to({"type": "chat", "req_id": "c1", "text": "Do you sell mugs?"})
        chatted = await _until_idle(ws)
        await ws.disconnect()
        return started, chatted

    started, chatted = async_to_sync(visit)()
    assert "".join(e["delta"] for e in started if e["type"] == "text_delta") == "Welcome back to the shop!"
    assert next(e for e in chatted if e["type"] == "done")["text"] == "Yes, we sell blue mugs."
    assert openai_double.headers[-1]["authorization"] == f"Bearer {PROVIDER_SECRET}"
    # a bare user id opens a conversation of its own, never the imported one
    assert started[0]["conversation_id"] != str(widget.id)
    client_key.refresh_from_db()
    assert not client_key.legacy_sha256 and client_key.secret_hash == ClientKey.hash_secret(CLIENT_SECRET)
    assert services.client_key_verify(CLIENT_SECRET).pk == client_key.pk  # the upgraded hash verifies

    # --- the site user, with a token signed by the reported secret, reopens the imported conversation
    token = ownership.user_token_sign(client_key, "user_123")

    async def returning_user() -> list[dict]:
        ws = await _socket(shop.id, key=CLIENT_SECRET, user_conversation_id="user_123", user_token=token)
        await ws.send_json_to({"type": "start", "req_id": "s2"})
        events = await _until_idle(ws)
        await ws.disconnect()
        return events

    events = async_to_sync(returning_user)()
    assert events[0]["conversation_id"] == str(widget.id)
    history = next(e for e in events if e["type"] == "history")["messages"]
    assert [m["text"] for m in history] == ["Welcome!", "hi, I am Ana", "Nice to meet you, Ana!"]


def test_a_legacy_sha256_opens_only_keys_imported_with_the_marker(db):
    import hashlib

    key, secret, _ = services.client_key_create(name="made here")
    # a key made here whose hash is (somehow) the bare SHA-256 is not opened by the legacy path
    ClientKey.objects.filter(pk=key.pk).update(secret_hash=hashlib.sha256(secret.encode()).hexdigest())
    with pytest.raises(services.ClientKeyInvalid):
        services.client_key_verify(secret)


def test_it_refuses_to_start_without_the_reference_key_when_there_are_provider_keys(monkeypatch, reference):
    monkeypatch.delenv("REFERENCE_SECRET_KEY", raising=False)
    with pytest.raises(CommandError, match="REFERENCE_SECRET_KEY"):
        call_command("voicebot_import_reference", str(reference["path"]), stdout=StringIO())
    assert Bot.objects.count() == 0


def test_it_refuses_a_file_that_is_not_the_reference_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(CommandError, match="not a SQLite database|no `bot` table"):
        call_command("voicebot_import_reference", str(path), stdout=StringIO())
