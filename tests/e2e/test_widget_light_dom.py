"""The widget without shadow DOM (`data-shadow="off"` / `create({shadow: false})`), in Debian's
chromium on a customer's page: the reference's DOM and class names in the page itself, styled by the
page's own CSS, one shared <style id="igx-voicebot-style">, and `create().root` the div.igxvb."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from embed import services

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Styled shop</title>
<style>.igxvbCard {{ background: rgb(255, 0, 0) !important; }} .igxvbTitle {{ letter-spacing: 3px; }}</style>
</head><body>
<div id="chat"></div><div id="second"></div>
<script src="{server}/public/widget.js" data-bot-id="{bot_id}" data-api-key="{key}"
        data-title="Styled helper" data-target="#chat" data-shadow="off"></script>
</body></html>
"""


def test_the_widget_renders_in_the_page_without_shadow_dom(
    page, daphne_server, host_origin, openai_double, bot, artifacts_dir
):
    _, secret, _ = services.client_key_create(name="styled", allowed_origins=host_origin.url)
    openai_double.queue_text("Hello from the light DOM.")
    openai_double.queue_text("Mugs are on the second shelf.")
    page.goto(host_origin.page("styled.html", PAGE.format(server=daphne_server.url, bot_id=bot.id, key=secret)))

    widget = page.locator("#chat > div.igxvb")
    log = widget.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("Hello from the light DOM.")
    structure = page.evaluate(
        """() => {
          const root = document.querySelector('#chat > div.igxvb');
          const card = root.querySelector(':scope > div.igxvbCard');
          return {
            shadow: !!document.querySelector('#chat .igxvb-host'),
            header: !!card.querySelector(':scope > .igxvbHeader > .igxvbTitle + .igxvbMeta'),
            body: !!card.querySelector(':scope > .igxvbBody'),
            footer: !!card.querySelector(':scope > form.igxvbFooter > input + button'),
            background: getComputedStyle(card).backgroundColor,
            spacing: getComputedStyle(root.querySelector('.igxvbTitle')).letterSpacing,
            styles: document.querySelectorAll('style#igx-voicebot-style').length,
          };
        }"""
    )
    assert structure == {
        "shadow": False,
        "header": True,
        "body": True,
        "footer": True,
        "background": "rgb(255, 0, 0)",  # the site's CSS reaches the widget
        "spacing": "3px",
        "styles": 1,
    }

    box = widget.get_by_role("textbox", name="Message to Styled helper")
    box.fill("Where are the mugs?")
    box.press("Enter")
    expect(log).to_contain_text("Mugs are on the second shelf.")
    page.screenshot(path=str(artifacts_dir / "widget-light-dom.png"), full_page=True)

    # create() with shadow: false returns the reference's root, and the default style is added once
    openai_double.queue_text("Second widget.")
    created = page.evaluate(
        """([bot, key, origin]) => {
          const widget = window.IntelligravexVoiceBot.create({
            botId: bot, apiKey: key, baseOrigin: origin, target: '#second', shadow: false });
          const result = { className: widget.root.className, parent: widget.root.parentElement.id,
                           styles: document.querySelectorAll('style#igx-voicebot-style').length };
          widget.close();
          result.removed = !document.querySelector('#second .igxvb');
          return result;
        }""",
        [str(bot.id), secret, daphne_server.url],
    )
    assert created == {"className": "igxvb", "parent": "second", "styles": 1, "removed": True}
    assert not [m for m in page.console_messages if m.startswith("pageerror")]


def test_the_default_still_uses_shadow_dom(page, daphne_server, host_origin, openai_double, bot):
    _, secret, _ = services.client_key_create(name="default", allowed_origins=host_origin.url)
    openai_double.queue_text("Shadowed hello.")
    html = PAGE.format(server=daphne_server.url, bot_id=bot.id, key=secret).replace(' data-shadow="off"', "")
    page.goto(host_origin.page("default.html", html))
    expect(page.locator("#chat .igxvb-host").get_by_role("log", name="Conversation")).to_contain_text("Shadowed hello.")
    assert page.evaluate("() => !!document.querySelector('#chat .igxvb-host').shadowRoot")
    assert page.evaluate("() => document.querySelectorAll('style#igx-voicebot-style').length") == 0
