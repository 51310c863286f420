"""The public socket verifies its client key once, then per message compares a state token in the
shared cache (embed.services.KeyGrant); the first text delta of a reply is never held back."""

from __future__ import annotations

import threading

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from embed import services
from embed.models import ClientKey

pytestmark = pytest.mark.usefixtures("openai_double")


@pytest.fixture
def verifications(monkeypatch):
    """How many times the key row was read and its secret checked (connect, re-checks)."""
    calls = []
    real = services.client_key_verify

    def counting(secret):
        calls.append(secret)
        return real(secret)

    monkeypatch.setattr(services, "client_key_verify", counting)
    return calls


async def _forbidden_history(socket, req_id: str) -> None:
    await socket.send(type="history", req_id=req_id)  # admitted, then refused for lack of proof
    assert (await socket.receive())["code"] == "forbidden"


async def test_the_key_is_read_at_connect_not_on_every_message(open_socket, live_bot, make_key, verifications):
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _forbidden_history(socket, "h")  # the socket accepts first, then checks: wait for the check
    assert len(verifications) == 1
    for i in range(5):
        await _forbidden_history(socket, f"h{i}")
    assert len(verifications) == 1
    await socket.close()


async def test_a_saved_key_is_read_again_at_the_next_message(open_socket, live_bot, make_key, verifications):
    key, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _forbidden_history(socket, "h0")
    await database_sync_to_async(services.client_key_update)(key, name="renamed")
    await _forbidden_history(socket, "h1")
    assert len(verifications) == 2
    await _forbidden_history(socket, "h2")
    assert len(verifications) == 2
    await socket.close()


async def test_a_lost_state_token_only_costs_a_read(open_socket, live_bot, make_key, verifications):
    _, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _forbidden_history(socket, "h0")
    cache.clear()  # an evicted or restarted cache: the token no longer matches
    await _forbidden_history(socket, "h1")
    assert len(verifications) == 2
    await socket.close()


async def test_revocation_from_another_process_stops_the_socket_at_its_next_message(open_socket, live_bot, make_key):
    """Another process revokes through the shared cache: the row changes without this process's
    signals, and only the token in the cache tells the socket."""
    key, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _forbidden_history(socket, "h1")
    await database_sync_to_async(
        lambda: ClientKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # no signal here
    )()
    await _forbidden_history(socket, "h2")  # nothing told this process yet
    cache.set(f"embed:key-state:{key.secret_hash}", "bumped elsewhere")
    await socket.send(type="history", req_id="h3")
    event = await socket.receive()
    assert event["type"] == "error" and event["code"] == "invalid_key"
    assert await socket.closed_with() == 4401


async def test_a_write_that_bypasses_signals_is_seen_after_the_recheck_interval(
    open_socket, live_bot, make_key, monkeypatch
):
    key, secret, _ = await make_key()
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await _forbidden_history(socket, "h0")
    monkeypatch.setattr(services, "KEY_RECHECK_SECONDS", 0.0)
    await database_sync_to_async(lambda: ClientKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now()))()
    await socket.send(type="history", req_id="h1")
    assert (await socket.receive())["code"] == "invalid_key"
    assert await socket.closed_with() == 4401


async def test_the_first_text_delta_is_never_delayed(open_socket, live_bot, make_key, openai_double):
    """The double produces the first token, then waits for the test before the second: the first
    `text_delta` must reach the client while the second token does not exist yet."""
    _, secret, _ = await make_key()
    gate = threading.Event()
    produced_after_first: list[int] = []

    def gated_sleep(seconds: float) -> None:  # the double sleeps before every token but the first
        if not seconds:  # the time to first token (none here)
            return
        gate.wait(10)
        produced_after_first.append(1)

    openai_double.sleep = gated_sleep
    openai_double.queue_text("One two three four.", token_delay_s=0.01)
    socket = await open_socket(live_bot.id, key=secret, user_conversation_id="u1")
    await socket.send(type="chat", req_id="c1", text="count")  # `chat` without `start`: no greeting
    events = await socket.until("text_delta")
    assert not produced_after_first and not gate.is_set()
    assert events[-1]["delta"].strip() == "One" and events[-1]["req_id"] == "c1"
    gate.set()
    rest = await socket.until("status", stage="idle")
    assert [e["text"] for e in rest if e["type"] == "done"] == ["One two three four."]
    assert "".join(e["delta"] for e in events + rest if e["type"] == "text_delta") == "One two three four."
    await socket.close()
