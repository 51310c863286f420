"""The widget on a customer's page (another origin), against a live daphne server and the OpenAI double.

Driven in Debian's chromium: a `<script>` tag embeds the bot, the visitor sends a message and sees the
streamed reply, reloads and sees the history again; the Studio's copied snippet, pasted as is, gives
each browser a conversation of its own. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import html
import re

import pytest
from playwright.sync_api import expect

from embed import services

pytestmark = pytest.mark.e2e

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme shop</title>
<style>body {{ font-family: serif; background: #fff8e7; }} .igxvbCard {{ background: red !important; }}</style>
</head><body>
<h1>Acme shop</h1>
<div id="chat"></div>
<script src="{server}/public/widget.js" data-bot-id="{bot_id}" data-api-key="{key}"
        data-user-conversation-id="{user}" data-title="Acme helper" data-target="#chat"></script>
</body></html>
"""


def _host_page(host_origin, daphne_server, bot, secret, user="visitor-1") -> str:
    html = HOST_PAGE.format(server=daphne_server.url, bot_id=bot.id, key=secret, user=user)
    return host_origin.page("shop.html", html)


def test_a_visitor_chats_and_sees_the_history_after_a_reload(
    page, daphne_server, host_origin, openai_double, bot, artifacts_dir
):
    _, secret, _ = services.client_key_create(name="acme", allowed_origins=host_origin.url)
    openai_double.queue_text("Hello! Welcome to Acme.")
    openai_double.queue_text("Our blue mug costs twelve euros and ships tomorrow.")
    page.goto(_host_page(host_origin, daphne_server, bot, secret))

    widget = page.locator("#chat .igxvb-host")
    expect(widget.get_by_role("heading", name="Acme helper")).to_be_visible()
    log = widget.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("Hello! Welcome to Acme.")

    box = widget.get_by_role("textbox", name="Message to Acme helper")
    box.fill("How much is the blue mug?")
    box.press("Enter")
    expect(log).to_contain_text("How much is the blue mug?")
    expect(log).to_contain_text("Our blue mug costs twelve euros and ships tomorrow.")
    expect(widget.get_by_role("status")).to_have_text("ready")  # no model, tokens or cost for site visitors
    expect(box).to_be_focused()
    page.screenshot(path=str(artifacts_dir / "widget-chat.png"), full_page=True)

    # the host page's CSS does not reach into the widget (shadow DOM)
    background = page.evaluate(
        "() => getComputedStyle(document.querySelector('#chat .igxvb-host').shadowRoot"
        ".querySelector('.igxvbCard')).backgroundColor"
    )
    assert background != "rgb(255, 0, 0)"

    page.reload()
    log = page.locator("#chat .igxvb-host").get_by_role("log", name="Conversation")
    expect(log).to_contain_text("How much is the blue mug?")
    expect(log).to_contain_text("Our blue mug costs twelve euros and ships tomorrow.")
    expect(log).to_contain_text("Hello! Welcome to Acme.")
    page.screenshot(path=str(artifacts_dir / "widget-after-reload.png"), full_page=True)
    assert openai_double.pending() == 0  # no second greeting for a returning visitor
    assert not [m for m in page.console_messages if m.startswith("pageerror")]


def test_another_browser_with_the_same_user_id_does_not_see_the_history(
    browser, page, daphne_server, host_origin, openai_double, bot
):
    _, secret, _ = services.client_key_create(name="acme", allowed_origins=host_origin.url)
    openai_double.queue_text("Hi there.")
    openai_double.queue_text("Your order 1234 ships Monday.")
    url = _host_page(host_origin, daphne_server, bot, secret, user="shared-id")
    page.goto(url)
    box = page.locator("#chat .igxvb-host").get_by_role("textbox")
    expect(page.locator("#chat .igxvb-host").get_by_role("log")).to_contain_text("Hi there.")
    box.fill("Where is my order?")
    box.press("Enter")
    expect(page.locator("#chat .igxvb-host").get_by_role("log")).to_contain_text("ships Monday")

    other = browser.new_context()
    try:
        intruder = other.new_page()
        intruder.goto(url)
        widget = intruder.locator("#chat .igxvb-host")
        expect(widget.get_by_role("status")).to_have_text("ready")
        expect(widget.get_by_role("log")).not_to_contain_text("ships Monday")
    finally:
        other.close()


def test_a_page_on_an_origin_the_key_does_not_allow_sees_an_error(page, daphne_server, host_origin, bot, artifacts_dir):
    _, secret, _ = services.client_key_create(name="acme", allowed_origins="https://shop.example.com")
    page.goto(_host_page(host_origin, daphne_server, bot, secret))
    widget = page.locator("#chat .igxvb-host")
    expect(widget.get_by_role("alert")).to_have_text("Origin not allowed")
    expect(widget.get_by_role("status")).to_have_text("disconnected")
    expect(widget.get_by_role("button", name="Send")).to_be_disabled()
    page.screenshot(path=str(artifacts_dir / "widget-origin-refused.png"))


def _studio_snippet(staff_client, daphne_server, host_origin, bot) -> str:
    """The snippet the Studio shows for a new key (what its Copy snippet button copies), unescaped."""
    response = staff_client.post(
        "/keys/client/",
        {"client-name": "Acme", "client-allowed_origins": host_origin.url, "client-allowed_bot_ids": [str(bot.id)]},
        HTTP_HX_REQUEST="true",
        HTTP_HOST=daphne_server.url.removeprefix("http://"),
    )
    assert response.status_code == 200
    found = re.search(r'<code class="snippet" id="new-client-snippet">(.*?)</code>', response.content.decode(), re.S)
    return html.unescape(found.group(1))


def test_the_studio_snippet_pasted_as_is_gives_each_browser_its_own_conversation(
    browser, daphne_server, host_origin, openai_double, bot, staff_client, artifacts_dir
):
    snippet = _studio_snippet(staff_client, daphne_server, host_origin, bot)
    assert "REPLACE-WITH" not in snippet and "data-user-conversation-id" not in snippet
    url = host_origin.page(
        "pasted.html",
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Acme</title></head>"
        f"<body><h1>Acme</h1>{snippet}</body></html>",
    )
    openai_double.queue_text("Welcome, first visitor.")
    openai_double.queue_text("Your parcel to Lisbon ships Friday.")
    openai_double.queue_text("Welcome, second visitor.")
    openai_double.queue_text("Your refund of 80 euros is on its way.")

    contexts, pages = [], []
    try:
        for greeting, question, answer in (
            ("Welcome, first visitor.", "Where is my Lisbon parcel?", "ships Friday"),
            ("Welcome, second visitor.", "Where is my 80 euro refund?", "refund of 80 euros"),
        ):
            context = browser.new_context()
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(15_000)
            pages.append(page)
            page.goto(url)
            log = page.locator(".igxvb-host").get_by_role("log")
            expect(log).to_contain_text(greeting)
            box = page.locator(".igxvb-host").get_by_role("textbox")
            box.fill(question)
            box.press("Enter")
            expect(log).to_contain_text(answer)

        first, second = pages
        for page, own, other in (
            (first, "Lisbon parcel", "80 euro refund"),
            (second, "80 euro refund", "Lisbon parcel"),
        ):
            page.reload()
            log = page.locator(".igxvb-host").get_by_role("log")
            expect(log).to_contain_text(own)
            expect(page.locator(".igxvb-host").get_by_role("status")).to_have_text("ready")
            expect(log).not_to_contain_text(other)
        first.screenshot(path=str(artifacts_dir / "widget-pasted-snippet.png"), full_page=True)
        assert openai_double.pending() == 0
    finally:
        for context in contexts:
            context.close()
