"""The latency page in Debian's chromium at 1280x800, with a month of turns of three bots on three
channels: it renders its chart and table with no CSP violation. The screenshot goes to test-artifacts/,
and to docs/screenshots/ with VOICEBOT_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from conversations.models import Message
from conversations.services import assistant_reply_store, conversation_start, message_append
from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import ROOT, launch_chromium, run_server, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _month_of_turns(bots) -> None:
    """Turns stored as the engine stores them, then moved back over the last 30 days."""
    rng = random.Random(7)
    now = timezone.now()
    with transaction.atomic():  # one commit for the month, not two per turn
        for bot, channels, base in bots:
            for channel in channels:
                conversation = conversation_start(bot=bot, test_flag=channel == "studio", channel=channel)
                rows, stamps = [], []
                for day in range(30):
                    for _ in range(rng.randint(3, 9)):
                        voice = channel in ("phone", "studio")
                        ttfb = int(rng.lognormvariate(0, 0.35) * base * 0.35)
                        tts = int(rng.lognormvariate(0, 0.3) * 180) if voice else None
                        total = ttfb + int(rng.lognormvariate(0, 0.4) * base) + (tts or 0)
                        when = now - timedelta(days=day, minutes=rng.randint(1, 50 if day == 0 else 600))
                        asr = int(rng.lognormvariate(0, 0.3) * 350) if voice else None
                        user = message_append(conversation=conversation, role="user", content="q", asr_ms=asr)
                        reply = assistant_reply_store(
                            conversation=conversation,
                            text="a",
                            timings_ms={"llm_ttfb": ttfb, "tts_first_audio": tts, "total": total},
                        )
                        rows += [user, reply]
                        stamps += [when, when]
                for message, when in zip(rows, stamps, strict=True):
                    message.created_at = when
                # a state users cannot reach: a month of turns stored in the past (the page charts 30 days)
                Message.objects.bulk_update(rows, ["created_at"])


def test_the_latency_page_renders_in_chromium(staff_user, openai_double, tmp_path):
    from bots.services import bot_create

    bots = [
        (bot_create(name="Shop assistant", openai_model="gpt-4o-mini"), ["studio", "widget"], 900),
        (bot_create(name="Clinic line", openai_model="gpt-4o-mini"), ["phone"], 1300),
        (bot_create(name="Docs helper", openai_model="gpt-4o"), ["widget"], 700),
    ]
    _month_of_turns(bots)
    env = server_env(openai_base_url=openai_double.base_url)
    with run_server(env, tmp_path / "server.log") as live, launch_chromium() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(live.url + "/login/")
        page.get_by_label("Username").fill("staff")
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Latency").click()
        page.get_by_role("link", name="30 days").click()
        page.wait_for_selector("svg.latency-chart polyline")
        assert page.locator("table.latency-table tbody tr").count() == 4
        assert page.locator("svg.latency-chart circle").count() == 60  # p50 and p95 for each of 30 days
        assert violations == []
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "studio-latency.png"))
        if os.environ.get("VOICEBOT_UPDATE_SCREENSHOTS"):
            Path(ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ROOT / "docs" / "screenshots" / "studio-latency.png"))
        context.close()
