"""Integrations count what operators watch: egress blocks, Codex runs and sandbox kills."""

from __future__ import annotations

import json
import os

import pytest

from integrations.sandbox import SandboxLimits, run_python
from tests.integrations.conftest import make_tool
from tests.observability.conftest import sample

pytestmark = pytest.mark.django_db(transaction=True)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's namespaces need the server's root")


def test_a_tool_call_to_a_private_address_counts_as_an_egress_block(bot, staff_api, openai_double, mock_api):
    before = sample("voicebot_egress_blocks_total", reason="blocked_address")
    make_tool(bot, name="lookup", url=mock_api.url + "/v1/echo")  # loopback, not allow-listed
    openai_double.queue_tool_call("lookup", {"args": {}})
    openai_double.queue_text("It failed.")
    assert staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "go"}, format="json").status_code == 200
    assert sample("voicebot_egress_blocks_total", reason="blocked_address") - before == 1


@needs_root
def test_a_script_stopped_at_the_wall_clock_limit_counts_as_a_sandbox_kill():
    before = sample("voicebot_sandbox_kills_total", reason="wall_timeout")
    limits = SandboxLimits(wall_seconds=1, cpu_seconds=5, memory_bytes=256 * 1024 * 1024, file_size_bytes=1 << 20)
    assert run_python("import time\ntime.sleep(30)\n", limits=limits).timed_out
    assert sample("voicebot_sandbox_kills_total", reason="wall_timeout") - before == 1


@needs_root
def test_a_codex_step_counts_as_a_codex_run(bot, staff_api, openai_double, mock_api, allow_loopback):
    before = sample("voicebot_codex_runs_total", outcome="ok")
    make_tool(bot, name="find_doctors", url=mock_api.url + "/v1/doctors", use_codex_response=True)
    script = "import sys\nopen(sys.argv[2], 'w').write('three doctors')\n"
    openai_double.queue_tool_call("find_doctors", {"args": {"fields_required": "names", "why_api_was_called": "x"}})
    openai_double.queue_text(json.dumps({"STOP_REASON": "DONE", "next_step": "STOP", "script": script}))
    openai_double.queue_text("There are three.")
    response = staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "doctors?"}, format="json")
    assert response.status_code == 200, response.content
    assert sample("voicebot_codex_runs_total", outcome="ok") - before == 1
