"""Helpers for engine tests: run a turn to the end and collect its events."""

from __future__ import annotations

import contextlib

from asgiref.sync import sync_to_async

from conversations.engine import run_greeting, run_turn
from conversations.engine.events import Done, Error, TextDelta


async def collect(events) -> list:
    async with contextlib.aclosing(events) as stream:
        return [event async for event in stream]


async def turn(conversation, text, **kwargs) -> list:
    return await collect(run_turn(conversation, text, **kwargs))


async def greet(conversation, **kwargs) -> list:
    return await collect(run_greeting(conversation, **kwargs))


def said(events) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


def done(events) -> Done:
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones) == 1, events
    return dones[0]


def error(events) -> Error:
    errors = [e for e in events if isinstance(e, Error)]
    assert errors and not any(isinstance(e, Done) for e in events), events
    return errors[0]


@sync_to_async
def stored(conversation) -> list[tuple]:
    """(role, tool_kind, content, interrupted) of every stored message, oldest first."""
    return [(m.role, m.tool_kind, m.content, m.interrupted) for m in conversation.messages.order_by("created_at")]


@sync_to_async
def refreshed(obj):
    obj.refresh_from_db()
    return obj
