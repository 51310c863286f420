"""The conversation session every transport shares: messages sent while a turn runs wait in line and
are answered in order, each stored once; over the bound a clear error (never a silent drop); barge-in
answers `done interrupted` and lets the next message run; the wire shape per transport policy."""

from __future__ import annotations

import asyncio

import pytest

from conversations.engine import run_turn
from conversations.services import conversation_start
from conversations.session import PUBLIC_POLICY, STUDIO_POLICY, ConversationSession
from tests.conversations.engine_helpers import stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(bot):
    return conversation_start(bot=bot)


class Outbox:
    """What a socket would have sent, in order."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, payload: dict) -> None:
        self.sent.append(payload)

    def of(self, req_id: str) -> list[dict]:
        return [p for p in self.sent if p.get("req_id") == req_id]

    def types(self, req_id: str) -> list[str]:
        return [p["type"] for p in self.of(req_id)]


def chat(conversation, text):
    return lambda options: run_turn(conversation, text, options=options)


async def test_three_quick_messages_get_three_answers_in_order_each_stored_once(openai_double, conversation):
    openai_double.queue_text("Answer one.", ttft_s=0.3)
    openai_double.queue_text("Answer two.")
    openai_double.queue_text("Answer three.")
    outbox = Outbox()
    session = ConversationSession(outbox, policy=STUDIO_POLICY)

    tasks = [session.submit(conversation.pk, f"r{i}", chat(conversation, f"message {i}")) for i in (1, 2, 3)]
    await asyncio.gather(*tasks)

    dones = [p for p in outbox.sent if p["type"] == "done"]
    assert [(d["req_id"], d["text"]) for d in dones] == [
        ("r1", "Answer one."),
        ("r2", "Answer two."),
        ("r3", "Answer three."),
    ]
    for req_id in ("r1", "r2", "r3"):
        assert outbox.types(req_id)[-2:] == ["done", "status"]
        assert not [p for p in outbox.of(req_id) if p["type"] == "error"]
    rows = [(role, content) for role, _kind, content, _i in await stored(conversation)]
    assert rows == [
        ("user", "message 1"),
        ("assistant", "Answer one."),
        ("user", "message 2"),
        ("assistant", "Answer two."),
        ("user", "message 3"),
        ("assistant", "Answer three."),
    ]


async def test_a_message_over_the_bound_gets_a_clear_error_and_stores_nothing(openai_double, conversation, settings):
    settings.VOICEBOT_TURN_QUEUE_MAX = 3
    openai_double.queue_text("Slow first answer.", ttft_s=0.5)
    outbox = Outbox()
    session = ConversationSession(outbox, policy=STUDIO_POLICY)

    first = session.submit(conversation.pk, "r0", chat(conversation, "first"))
    await asyncio.sleep(0.2)  # r0 holds the lock, waiting for its first token
    queued = [session.submit(conversation.pk, f"q{i}", chat(conversation, f"queued {i}")) for i in (1, 2, 3)]
    await asyncio.sleep(0.05)
    over = session.submit(conversation.pk, "q4", chat(conversation, "one too many"))
    await over

    error = next(p for p in outbox.of("q4") if p["type"] == "error")
    assert error["code"] == "queue_full"
    assert "Too many messages are waiting" in error["error"]
    await asyncio.gather(first, *queued)
    assert all("done" in outbox.types(f"q{i}") for i in (1, 2, 3))
    contents = [content for role, _k, content, _i in await stored(conversation) if role == "user"]
    assert contents == ["first", "queued 1", "queued 2", "queued 3"]


def cache_answering_the_first_counts_last(monkeypatch, delays):
    """Behind Redis the waiting count is a network round trip, and round trips finish in any order
    (`make test-scale` once stored 'queued 2' before 'queued 1', and refused 'c3' instead of 'c4').
    This cache answers each new message's count after `delays[i]` seconds."""
    from conversations.engine import turn_lock

    counted = turn_lock._count_waiting
    pending = iter(delays)

    async def count(conversation_id, delta):
        if delta > 0:
            await asyncio.sleep(next(pending, 0))
        return await counted(conversation_id, delta)

    monkeypatch.setattr(turn_lock, "_count_waiting", count)


async def one_running_then_three_queued(conversation) -> Outbox:
    """'first' (r0) takes the turn; 'queued 1..3' (q1..q3) are sent at once while it runs."""
    outbox = Outbox()
    session = ConversationSession(outbox, policy=STUDIO_POLICY)
    first = session.submit(conversation.pk, "r0", chat(conversation, "first"))
    await asyncio.sleep(0.1)  # r0 holds the lock
    queued = [session.submit(conversation.pk, f"q{i}", chat(conversation, f"queued {i}")) for i in (1, 2, 3)]
    await asyncio.gather(first, *queued)
    return outbox


async def test_messages_keep_their_order_when_the_shared_cache_answers_out_of_order(
    openai_double, conversation, monkeypatch
):
    cache_answering_the_first_counts_last(monkeypatch, [0.15, 0.10, 0.05])
    openai_double.queue_text("First.", ttft_s=0.3)
    for answer in ("One.", "Two.", "Three."):
        openai_double.queue_text(answer)

    outbox = await one_running_then_three_queued(conversation)

    dones = [(p["req_id"], p["text"]) for p in outbox.sent if p["type"] == "done"]
    assert dones == [("r0", "First."), ("q1", "One."), ("q2", "Two."), ("q3", "Three.")]
    contents = [content for role, _k, content, _i in await stored(conversation) if role == "user"]
    assert contents == ["first", "queued 1", "queued 2", "queued 3"]


async def test_the_message_refused_over_the_bound_is_the_last_one_sent(
    openai_double, conversation, monkeypatch, settings
):
    settings.VOICEBOT_TURN_QUEUE_MAX = 2
    cache_answering_the_first_counts_last(monkeypatch, [0.15, 0.10, 0.0])
    openai_double.queue_text("First.", ttft_s=0.5)

    outbox = await one_running_then_three_queued(conversation)

    refused = [p["req_id"] for p in outbox.sent if p["type"] == "error" and p["code"] == "queue_full"]
    assert refused == ["q3"]
    contents = [content for role, _k, content, _i in await stored(conversation) if role == "user"]
    assert contents == ["first", "queued 1", "queued 2"]


async def test_barge_in_answers_done_interrupted_and_the_next_message_runs(openai_double, conversation):
    openai_double.queue_text("one two three four five six seven eight nine ten", token_delay_s=0.1)
    openai_double.queue_text("After the interruption.")
    outbox = Outbox()
    session = ConversationSession(outbox, policy=STUDIO_POLICY)

    session.submit(conversation.pk, "long", chat(conversation, "count"))
    while not any(p["type"] == "text_delta" for p in outbox.of("long")):
        await asyncio.sleep(0.02)
    following = session.submit(conversation.pk, "next", chat(conversation, "go on"))
    assert await session.cancel() == "long"
    await following

    done = next(p for p in outbox.of("long") if p["type"] == "done")
    assert done["interrupted"] is True and done["text"]
    assert next(p for p in outbox.of("next") if p["type"] == "done")["text"] == "After the interruption."
    rows = await stored(conversation)
    interrupted = [r for r in rows if r[0] == "assistant" and r[3]]
    assert len(interrupted) == 1 and interrupted[0][2] == done["text"]


async def test_two_sessions_on_one_conversation_share_the_line(openai_double, conversation):
    """Two tabs (or a tab and a widget) on one conversation: the second waits, it is not refused."""
    openai_double.queue_text("For tab one.", ttft_s=0.3)
    openai_double.queue_text("For tab two.")
    tab1, tab2 = Outbox(), Outbox()
    one = ConversationSession(tab1, policy=STUDIO_POLICY)
    two = ConversationSession(tab2, policy=STUDIO_POLICY)

    first = one.submit(conversation.pk, "a", chat(conversation, "from tab one"))
    await asyncio.sleep(0.1)
    second = two.submit(conversation.pk, "b", chat(conversation, "from tab two"))
    await asyncio.gather(first, second)

    assert next(p for p in tab1.sent if p["type"] == "done")["text"] == "For tab one."
    assert next(p for p in tab2.sent if p["type"] == "done")["text"] == "For tab two."


async def test_the_public_policy_hides_tool_and_metric_events(openai_double, conversation):
    openai_double.queue_text("Visible.")
    outbox = Outbox()
    session = ConversationSession(outbox, policy=PUBLIC_POLICY)
    await session.submit(conversation.pk, "p", chat(conversation, "hi"))

    assert "metrics" not in outbox.types("p")
    assert outbox.types("p")[-2:] == ["done", "status"]


async def test_debug_reaches_the_engine_as_the_model_request(openai_double, conversation):
    from conversations.engine import TurnOptions

    openai_double.queue_text("Debugged.")
    outbox = Outbox()
    session = ConversationSession(outbox, policy=STUDIO_POLICY)
    await session.submit(conversation.pk, "d", chat(conversation, "hi"), options=TurnOptions(debug=True))

    calls = [p for p in outbox.of("d") if p["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "debug_llm_request"
    assert '"phase": "chat_llm"' in calls[0]["arguments_json"]
