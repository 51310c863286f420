"""The mic test shows the transcript while the user speaks: `asr_partial` bubbles (Chromium's fake
microphone playing espeak-ng speech, the live server, the packaged tiny.en model) appear before the
final transcript replaces them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_studio import (  # noqa: F401 (fixtures)
    log_in,
    studio_page,
    studio_server,
    voice_bot,
)

pytestmark = pytest.mark.e2e

_WATCH = """() => {
  window.__transcripts = [];
  const chat = document.querySelector('#mictest [data-role=chat]');
  new MutationObserver(() => {
    for (const el of chat.querySelectorAll('.bubble.user')) {
      const kind = el.classList.contains('partial') ? 'partial' : 'final';
      const entry = kind + ':' + el.textContent;
      if (window.__transcripts[window.__transcripts.length - 1] !== entry) window.__transcripts.push(entry);
    }
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def test_partial_transcripts_show_before_the_final_one(
    studio_page,  # noqa: F811 (fixtures imported above)
    studio_server,  # noqa: F811
    staff_user,
    voice_bot,  # noqa: F811
    openai_double,
):
    page = studio_page
    log_in(page, studio_server)
    page.get_by_role("link", name="Voice shop").click()
    panel = page.locator("#mictest")
    expect(panel.locator("[data-role=stage]")).to_have_text("idle")
    panel.get_by_label("Speak replies").uncheck()
    page.evaluate(_WATCH)
    openai_double.queue_text("It opens at nine.")
    panel.get_by_role("button", name="● Record").click()
    expect(panel.locator("[data-role=stage]")).to_have_text("recording")
    page.wait_for_function(
        "() => window.__transcripts.some(t => t.startsWith('partial:') && t.length > 9)", timeout=20_000
    )
    page.wait_for_timeout(2500)
    panel.get_by_role("button", name="■ Stop").click()
    expect(panel.locator(".bubble.user:not(.partial)").first).to_contain_text("open", ignore_case=True, timeout=60_000)
    seen = page.evaluate("window.__transcripts")
    first_final = next(i for i, t in enumerate(seen) if t.startswith("final:"))
    assert any(t.startswith("partial:") for t in seen[:first_final]), seen
    assert panel.locator(".bubble.partial").count() == 0  # the final transcript replaced the live one
