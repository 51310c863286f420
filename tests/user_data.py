"""Test data made the way users make it: through the services the REST API, the Studio forms and the
engine call, so every validator runs on what the tests create (tests/test_test_data.py guards this).

Only the few shapes that take more than one service call live here; everything else calls the
service directly (`bot_create`, `tool_create`, `provider_key_create`, `client_key_create`, …).
"""

from __future__ import annotations

from typing import Any


def conversation_with(bot: Any, *, metadata: dict[str, Any] | None = None, **start: Any) -> Any:
    """A conversation started on `bot` (`start` as for `conversation_start`) whose metadata was then set
    the way a client, a tool or `set_metadata` sets it: merged in."""
    from conversations.services import conversation_merge_metadata, conversation_start

    conversation = conversation_start(bot=bot, **start)
    if metadata:
        conversation_merge_metadata(conversation=conversation, patch=metadata)
    return conversation


def finished_turn(
    conversation: Any,
    *,
    user: str = "hi",
    reply: str = "Hello.",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float = 0.0,
    timings_ms: dict[str, int] | None = None,
) -> Any:
    """One finished turn as the engine stores it: the user's message, then the reply with its metrics
    and the conversation's rollups. Returns the assistant message."""
    from conversations.services import assistant_reply_store, message_append

    message_append(conversation=conversation, role="user", content=user)
    return assistant_reply_store(
        conversation=conversation,
        text=reply,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd,
        timings_ms=timings_ms,
    )


def api_token(user: Any) -> str:
    """A REST API token made the way an operator makes one: `manage.py drf_create_token <username>`."""
    import io

    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("drf_create_token", user.get_username(), stdout=io.StringIO())
    return Token.objects.get(user=user).key
