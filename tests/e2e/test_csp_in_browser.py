"""Chromium reports no Content-Security-Policy violation on the Studio pages, the mic test (socket,
getUserMedia, AudioWorklet), the admin and the widget demo page, served by the real server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import STAFF_PASSWORD
from tests.e2e.conftest import launch_chromium, run_server, server_env

pytestmark = pytest.mark.e2e

# Injected by Playwright before any page script (not subject to the page's policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def mic_browser():
    with launch_chromium(("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")) as browser:
        yield browser


@pytest.fixture
def live(transactional_db, openai_double, tmp_path):
    with run_server(server_env(openai_base_url=openai_double.base_url), tmp_path / "server.log") as server:
        yield server


@pytest.fixture
def csp_page(mic_browser, live):
    context = mic_browser.new_context()
    context.grant_permissions(["microphone"], origin=live.url)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.csp_console = []
    page.on(
        "console",
        lambda m: page.csp_console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        yield page
    finally:
        context.close()


def _violations(page) -> list[str]:
    return [*page.evaluate("window.__cspViolations"), *page.csp_console]


def test_studio_pages_and_the_mic_test_run_without_csp_violations(csp_page, live, staff_user, bot):
    page = csp_page
    page.goto(live.url + "/login/")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Bots")).to_be_visible()
    assert _violations(page) == []

    for path in ("/keys/", "/conversations/", "/admin/", "/admin/bots/bot/", f"/admin/bots/bot/{bot.id}/change/"):
        page.goto(live.url + path)
        page.wait_for_load_state("load")
        assert _violations(page) == [], path

    page.goto(f"{live.url}/bots/{bot.id}/")
    panel = page.locator("#mictest")
    panel.locator("[data-role=speak]").uncheck()
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")  # the talk socket is open
    record = panel.get_by_role("button", name="● Record")
    expect(record).to_be_enabled()
    record.click()  # getUserMedia (fake device) and the recorder AudioWorklet
    expect(panel.locator("[data-role=stage]")).to_have_text("recording")
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.studioMicTest") == "object"
    assert _violations(page) == []


def test_the_widget_demo_page_runs_without_csp_violations(csp_page, live, bot):
    page = csp_page
    page.goto(f"{live.url}/public/demo")
    expect(page.locator("#origin")).to_have_text(live.url)  # static/embed/demo.js ran
    assert page.evaluate("typeof window.IntelligravexVoiceBot") == "object"
    assert _violations(page) == []
