"""The Studio's latency page: p50/p95 per bot and channel over 7 or 30 days beside today's averages,
and a small server-rendered SVG chart of one latency per day (no JavaScript, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from conversations.selectors import LATENCY_FIELDS, PERIOD_DAYS, latency_by_day, latency_percentiles
from studio.formatting import fmt_ms
from studio.permissions import staff_required

METRIC_LABELS = {
    "total": "Turn total",
    "llm_ttfb": "Model first token",
    "tts_first_audio": "TTS first audio",
    "asr": "Speech recognition",
}

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 1100, 240, 56, 40, 14, 28  # px: drawn at about 1:1 on a laptop


@dataclass
class Chart:
    width: int
    height: int
    p50_points: str
    p95_points: str
    dots: list[tuple[float, float, float, float, str]]  # x, y50, y95 (of days with data), tooltip
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str, str]]  # x, label, text-anchor
    empty: bool
    plot_right: int = WIDTH - RIGHT


def _nice_ceiling(value: float) -> float:
    for step in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000):
        if value <= step * 4:
            return step * 4 if value > step * 2 else step * 2
    return value


def line_chart(series: list[tuple[date, float | None, float | None, int]]) -> Chart:
    """Pixel geometry of the p50 and p95 lines over the days of `series`."""
    top = _nice_ceiling(max((p95 or 0) for _, _, p95, _ in series) or 100)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(series) - 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    p50, p95, dots = [], [], []
    for index, (day, low, high, count) in enumerate(series):
        if low is None or high is None:
            continue
        x = round(LEFT + index * step, 1)
        p50.append(f"{x},{y(low)}")
        p95.append(f"{x},{y(high)}")
        dots.append((x, y(low), y(high), f"{day:%b %d}: p50 {low:.0f} ms, p95 {high:.0f} ms ({count} turns)"))
    labels = [0, len(series) // 2, len(series) - 1] if series else []
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        p50_points=" ".join(p50),
        p95_points=" ".join(p95),
        dots=dots,
        y_ticks=[(y(top * f), f"{top * f / 1000:g} s" if top >= 2000 else f"{top * f:.0f} ms") for f in (0, 0.5, 1)],
        x_ticks=[
            (round(LEFT + i * step, 1), f"{series[i][0]:%b %d}", "end" if i and i == len(series) - 1 else "middle")
            for i in sorted(set(labels))
        ],
        empty=not dots,
    )


@staff_required
def latency_page(request: HttpRequest) -> HttpResponse:
    days = int(request.GET["days"]) if request.GET.get("days") in {str(d) for d in PERIOD_DAYS} else PERIOD_DAYS[0]
    metric = request.GET.get("metric") if request.GET.get("metric") in LATENCY_FIELDS else "total"
    columns = ["total", "llm_ttfb", "tts_first_audio", "asr"]
    table = [
        {
            "row": row,
            "cells": [(fmt_ms(row.p50[n]), fmt_ms(row.p95[n]), fmt_ms(row.today_avg[n])) for n in columns],
        }
        for row in latency_percentiles(days=days)
    ]
    context = {
        "days": days,
        "periods": PERIOD_DAYS,
        "metric": metric,
        "metrics": METRIC_LABELS,
        "metric_label": METRIC_LABELS[metric],
        "table": table,
        "columns": [METRIC_LABELS[n] for n in columns],
        "chart": line_chart(latency_by_day(days=days, metric=metric)),
    }
    return render(request, "studio/latency.html", context)
