"""The latency page in Debian's chromium at 1280x800, with a month of turns of three bots on three
channels: it renders its chart and table with no CSP violation. The screenshot goes to test-artifacts/,
and to docs/screenshots/ with VOICEBOT_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import ROOT, launch_chromium, run_server, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
HAS_CHANNEL = any(f.name == "channel" for f in Conversation._meta.get_fields())


def _month_of_turns(bots) -> None:
    rng = random.Random(7)
    now = timezone.now()
    for bot, channels, base in bots:
        for channel in channels:
            conversation = Conversation.objects.create(bot=bot, test_flag=channel == "studio")
            if HAS_CHANNEL:
                Conversation.objects.filter(pk=conversation.pk).update(channel=channel)
            rows, stamps = [], []
            for day in range(30):
                for _ in range(rng.randint(3, 9)):
                    voice = channel in ("phone", "studio")
                    ttfb = int(rng.lognormvariate(0, 0.35) * base * 0.35)
                    tts = int(rng.lognormvariate(0, 0.3) * 180) if voice else None
                    total = ttfb + int(rng.lognormvariate(0, 0.4) * base) + (tts or 0)
                    when = now - timedelta(days=day, minutes=rng.randint(1, 50 if day == 0 else 600))
                    user = Message(conversation=conversation, role="user", content="q")
                    user.asr_ms = int(rng.lognormvariate(0, 0.3) * 350) if voice else None
                    reply = Message(conversation=conversation, role="assistant", content="a")
                    reply.llm_ttfb_ms, reply.tts_first_audio_ms, reply.total_ms = ttfb, tts, total
                    rows += [user, reply]
                    stamps += [when, when]
            Message.objects.bulk_create(rows)
            for message, when in zip(rows, stamps, strict=True):
                message.created_at = when
            Message.objects.bulk_update(rows, ["created_at"])


def test_the_latency_page_renders_in_chromium(staff_user, openai_double, tmp_path):
    from bots.models import Bot

    bots = [
        (Bot.objects.create(name="Shop assistant", openai_model="gpt-4o-mini"), ["studio", "widget"], 900),
        (Bot.objects.create(name="Clinic line", openai_model="gpt-4o-mini"), ["phone"], 1300),
        (Bot.objects.create(name="Docs helper", openai_model="gpt-4o"), ["widget"], 700),
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
