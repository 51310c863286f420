"""The public socket's connect checks: the reference's order, messages and close codes, an error first."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from embed import services


async def _refused(socket) -> tuple[dict, int]:
    event = await socket.receive()
    return event, await socket.closed_with()


async def test_it_closes_4400_when_key_or_user_id_is_missing(open_socket, live_bot, make_key):
    _, secret, _ = await make_key()
    for query in ({"key": secret}, {"user_conversation_id": "u1"}, {}):
        event, code = await _refused(await open_socket(live_bot.id, **query))
        assert event["type"] == "error" and event["error"] == "Missing key or user_conversation_id"
        assert code == 4400


async def test_it_closes_4400_when_the_user_id_is_too_long(open_socket, live_bot, make_key, settings):
    _, secret, _ = await make_key()
    settings.VOICEBOT_EMBED_MAX_USER_ID_CHARS = 10
    event, code = await _refused(await open_socket(live_bot.id, key=secret, user_conversation_id="x" * 11))
    assert "longer than 10" in event["error"] and code == 4400


async def test_it_closes_4401_for_an_unknown_key(open_socket, live_bot, make_key):
    await make_key()
    event, code = await _refused(await open_socket(live_bot.id, key="igx_not-a-key", user_conversation_id="u1"))
    assert event == {"type": "error", "error": "Invalid client key", "code": "invalid_key", "req_id": None}
    assert code == 4401


async def test_it_closes_4401_for_a_revoked_key(open_socket, live_bot, make_key):
    key, secret, _ = await make_key()
    await database_sync_to_async(services.client_key_revoke)(key)
    event, code = await _refused(await open_socket(live_bot.id, key=secret, user_conversation_id="u1"))
    assert event["type"] == "error" and code == 4401


@pytest.mark.parametrize("origin", [None, "https://evil.example.org", "https://example.com"])
async def test_it_closes_4403_for_an_origin_not_on_the_list(open_socket, live_bot, make_key, origin):
    _, secret, _ = await make_key(allowed_origins="https://*.example.com")
    event, code = await _refused(await open_socket(live_bot.id, origin=origin, key=secret, user_conversation_id="u1"))
    assert event["error"] == "Origin not allowed" and code == 4403


async def test_it_closes_4403_for_a_bot_the_key_does_not_allow(open_socket, live_bot, make_key):
    from bots.services import bot_create

    other = await database_sync_to_async(bot_create)(name="Other")
    _, secret, _ = await make_key(allowed_bot_ids=[str(other.id)])
    event, code = await _refused(await open_socket(live_bot.id, key=secret, user_conversation_id="u1"))
    assert event["error"] == "Bot not allowed for this key" and code == 4403


async def test_the_checks_run_in_the_reference_order(open_socket, live_bot, make_key):
    # invalid key AND wrong origin: the key check comes first (4401)
    await make_key(allowed_origins="https://shop.example.com")
    socket = await open_socket(live_bot.id, origin="https://evil.test", key="igx_wrong", user_conversation_id="u1")
    assert (await _refused(socket))[1] == 4401


async def test_it_closes_4404_for_an_unknown_bot(open_socket, make_key):
    _, secret, _ = await make_key()
    event, code = await _refused(await open_socket(uuid.uuid4(), key=secret, user_conversation_id="u1"))
    assert event["error"] == "Bot not found" and code == 4404


async def test_an_allowed_origin_connects_and_records_last_use(open_socket, live_bot, make_key):
    key, secret, _ = await make_key(allowed_origins="https://*.example.com")
    socket = await open_socket(live_bot.id, origin="https://shop.example.com", key=secret, user_conversation_id="u1")
    await socket.send(type="nope", req_id="r1")
    event = await socket.receive()
    assert event == {"type": "error", "error": "Unknown message type: nope", "code": "bad_request", "req_id": "r1"}
    await database_sync_to_async(key.refresh_from_db)()
    assert key.last_used_at is not None
    await socket.close()
