"""Latency percentiles from stored turn timings: exact on known data, per bot and channel, per day;
and the Studio page that shows them (with its SVG chart) for staff only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.selectors import latency_by_day, latency_percentiles, percentile
from conversations.services import assistant_reply_store, conversation_start, message_append

pytestmark = pytest.mark.django_db


def test_percentile_interpolates_between_ranks():
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    assert percentile(list(range(1, 101)), 50) == 50.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([400, 100, 300, 200], 50) == 250
    assert percentile([100, 200, 300, 400, 1000], 95) == pytest.approx(880)


def _turn(conversation, *, total, ttfb, asr=None, tts=None, when=None):
    """One turn as the engine stores it, with known timings (exact values for exact percentiles)."""
    user = message_append(conversation=conversation, role="user", content="q", asr_ms=asr)
    reply = assistant_reply_store(
        conversation=conversation, text="a", timings_ms={"total": total, "llm_ttfb": ttfb, "tts_first_audio": tts}
    )
    if when is not None:
        # a state users cannot reach: a turn stored days ago (the percentile window counts back from today)
        Message.objects.filter(pk__in=[user.pk, reply.pk]).update(created_at=when)


@pytest.fixture
def known_turns(bot):
    """Bot 'Test bot': ten studio turns today (100..1000 ms) and one 40 days ago (outside both periods);
    five voice turns two days ago on the widget channel (live)."""
    studio = conversation_start(bot=bot, test_flag=True, channel=Conversation.Channel.STUDIO)
    for n in range(1, 11):
        _turn(studio, total=n * 100, ttfb=n * 10)
    _turn(studio, total=99_999, ttfb=9_999, when=timezone.now() - timedelta(days=40))
    widget = conversation_start(bot=bot, test_flag=False, channel=Conversation.Channel.WIDGET)
    two_days_ago = timezone.now() - timedelta(days=2)
    for n, asr in enumerate([300, 310, 320, 330, 1000], start=1):
        _turn(widget, total=2000 + n * 100, ttfb=200, asr=asr, tts=150 + n, when=two_days_ago)
    return bot


def test_percentiles_per_bot_and_channel_on_known_data(known_turns):
    rows = {row.channel: row for row in latency_percentiles(days=7)}
    assert set(rows) == {"studio", "widget"}
    studio, widget = rows["studio"], rows["widget"]
    assert studio.turns == 10 and widget.turns == 5
    assert studio.p50["total"] == 550 and studio.p95["total"] == pytest.approx(955)
    assert studio.p50["llm_ttfb"] == 55 and studio.p95["llm_ttfb"] == pytest.approx(95.5)
    assert studio.p50["asr"] is None and studio.today_avg["total"] == 550
    assert widget.p50["asr"] == 320 and widget.p95["asr"] == pytest.approx(866)
    assert widget.p50["total"] == 2300 and widget.p95["tts_first_audio"] == pytest.approx(154.8)
    assert widget.today_avg["total"] is None  # its turns were two days ago
    assert latency_percentiles(days=30)[0].p95["total"] != 99_999  # the 40-day-old turn is outside


def test_latency_by_day_gives_every_day_of_the_period(known_turns):
    days = latency_by_day(days=7, metric="total")
    assert len(days) == 7 and days[-1][0] == timezone.localdate()
    assert days[-1][1:] == (550, pytest.approx(955), 10)
    assert days[-3][1:] == (2300, pytest.approx(2480), 5)
    assert all(p50 is None and count == 0 for _, p50, _, count in days[:4])


def test_the_studio_page_shows_percentiles_and_a_chart(known_turns, staff_client):
    response = staff_client.get("/latency/?days=7&metric=total")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Test bot" in page and "<svg" in page and "<polyline" in page
    assert "550ms" in page and "955ms" in page and "2.30s" in page  # studio p50/p95, widget p50
    assert staff_client.get("/latency/?days=30&metric=asr").status_code == 200
    assert staff_client.get("/latency/?days=999&metric=nope").status_code == 200  # falls back to 7 / total


def test_the_studio_page_is_for_staff_only(stranger_client):
    assert stranger_client.get("/latency/").status_code == 403
