"""Reads over stored messages for the Studio's latency page: percentiles per bot and channel, per day.

Latencies come from the per-turn timings the engine stores (`Message.asr_ms` on the user message,
`llm_ttfb_ms`, `tts_first_audio_ms` and `total_ms` on the assistant reply), so the numbers survive
restarts and cover every process; Prometheus (`/metrics`) has the same quantities as histograms for
alerting. Percentiles use linear interpolation between the two nearest ranks (numpy's default), in
Python: portable across SQLite and PostgreSQL, and a period holds one row per turn at most.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, CharField, F, Value, When
from django.utils import timezone

from conversations.models import Conversation, Message

PERIOD_DAYS = (7, 30)
# name -> (Message field, the role whose rows carry it)
LATENCY_FIELDS: dict[str, tuple[str, str]] = {
    "asr": ("asr_ms", Message.Role.USER),
    "llm_ttfb": ("llm_ttfb_ms", Message.Role.ASSISTANT),
    "tts_first_audio": ("tts_first_audio_ms", Message.Role.ASSISTANT),
    "total": ("total_ms", Message.Role.ASSISTANT),
}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of `values`, interpolating linearly between ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _channel_expression() -> Any:
    """The conversation's channel: its own field where the model has one; otherwise derived (a client
    key means the widget, a test conversation the Studio or the REST API, anything else live)."""
    if any(f.name == "channel" for f in Conversation._meta.get_fields()):
        return F("conversation__channel")
    return Case(
        When(conversation__client_key__isnull=False, then=Value("widget")),
        When(conversation__test_flag=True, then=Value("studio")),
        default=Value("live"),
        output_field=CharField(),
    )


@dataclass
class LatencyRow:
    bot_id: str
    bot_name: str
    channel: str
    turns: int = 0  # assistant replies with a total time in the period
    p50: dict[str, float | None] = field(default_factory=dict)
    p95: dict[str, float | None] = field(default_factory=dict)
    today_avg: dict[str, float | None] = field(default_factory=dict)


def _rows(since: datetime, *, bot_id: Any = None) -> list[tuple]:
    messages = Message.objects.filter(
        created_at__gte=since, role__in=[Message.Role.USER, Message.Role.ASSISTANT]
    ).annotate(channel_name=_channel_expression())
    if bot_id is not None:
        messages = messages.filter(conversation__bot_id=bot_id)
    return list(
        messages.values_list(
            "conversation__bot_id",
            "conversation__bot__name",
            "channel_name",
            "role",
            "created_at",
            *(name for name, _ in LATENCY_FIELDS.values()),
        )
    )


def latency_percentiles(*, days: int, now: datetime | None = None) -> list[LatencyRow]:
    """p50/p95 of each latency per (bot, channel) over the last `days` days, with today's averages."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    values: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    todays: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    names: dict[tuple, str] = {}
    for bot_id, bot_name, channel, role, created_at, *timings in _rows(now - timedelta(days=days)):
        key = (str(bot_id), channel or "")
        names[key] = bot_name
        for (name, (_, owner)), value in zip(LATENCY_FIELDS.items(), timings, strict=True):
            if value is None or role != owner:
                continue
            values[key][name].append(value)
            if timezone.localdate(created_at) == today:
                todays[key][name].append(value)
    rows = []
    for key in sorted(values, key=lambda k: (names[k].lower(), k[1])):
        series = values[key]
        row = LatencyRow(bot_id=key[0], bot_name=names[key], channel=key[1], turns=len(series.get("total", [])))
        for name in LATENCY_FIELDS:
            row.p50[name] = percentile(series.get(name, []), 50)
            row.p95[name] = percentile(series.get(name, []), 95)
            today_values = todays[key].get(name, [])
            row.today_avg[name] = sum(today_values) / len(today_values) if today_values else None
        rows.append(row)
    return rows


def latency_by_day(
    *, days: int, metric: str = "total", bot_id: Any = None, now: datetime | None = None
) -> list[tuple[date, float | None, float | None, int]]:
    """(day, p50, p95, count) of one latency for each of the last `days` days (oldest first)."""
    _, owner = LATENCY_FIELDS[metric]
    column = 5 + list(LATENCY_FIELDS).index(metric)
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    per_day: dict[date, list[int]] = defaultdict(list)
    for row in _rows(now - timedelta(days=days), bot_id=bot_id):
        day = timezone.localdate(row[4])
        if row[3] == owner and row[column] is not None and day >= first:
            per_day[day].append(row[column])
    return [
        (day, percentile(per_day[day], 50), percentile(per_day[day], 95), len(per_day[day]))
        for day in (first + timedelta(days=n) for n in range(days))
    ]
