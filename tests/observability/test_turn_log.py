"""One structured line per turn: conversation id, bot, channel, timings and outcome (JSON with
VOICEBOT_LOG_FORMAT=json), no message text; records logged during a turn carry its conversation id."""

from __future__ import annotations

import json
import logging

import pytest

from observability.logs import TURN_LOGGER, ConversationFilter, JsonFormatter, TextFormatter

pytestmark = pytest.mark.django_db(transaction=True)


class _Lines(logging.Handler):
    """A handler with the project's JSON formatter and conversation filter, as settings configure it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.addFilter(ConversationFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines():
    handler = _Lines(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_turn_logs_one_json_line_with_ids_channel_timings_and_outcome(json_lines, bot, staff_api, openai_double):
    openai_double.queue_text("The secret word is marmalade.")
    response = staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "tell me about lighthouses"}, format="json")
    assert response.status_code == 200

    turns = [json.loads(line) for line in json_lines if f'"logger": "{TURN_LOGGER}"' in line]
    assert len(turns) == 1
    line = turns[0]
    assert line["event"] == "turn" and line["level"] == "INFO"
    assert line["conversation_id"] == response.json()["conversation_id"]
    assert line["bot_id"] == str(bot.pk) and line["channel"] == "rest" and line["outcome"] == "ok"
    assert line["model"] == "gpt-4o-mini" and line["duration_ms"] >= 0 and line["wait_ms"] >= 0
    assert {"llm_ttfb", "llm_total"} <= set(line["timings_ms"])
    assert "marmalade" not in json.dumps(json_lines) and "lighthouses" not in json.dumps(json_lines)


def test_an_error_turn_logs_its_outcome_and_code(json_lines, bot, staff_api, openai_double):
    openai_double.queue_error(401)
    staff_api.post(f"/api/bots/{bot.pk}/chat", {"text": "hi"}, format="json")
    line = next(json.loads(line) for line in json_lines if '"event": "turn"' in line)
    assert line["outcome"] == "error" and line["error_code"] and line["bot_id"] == str(bot.pk)


def test_records_logged_during_a_turn_carry_its_conversation_id(json_lines):
    from observability import observe

    turn = observe.turn_begin("widget", "conv-42")
    logging.getLogger("embed.anything").warning("the visitor went away")
    turn.close()
    logging.getLogger("embed.anything").warning("after the turn")
    inside, after = (json.loads(line) for line in json_lines if "embed.anything" in line)
    assert inside["conversation_id"] == "conv-42" and "conversation_id" not in after
    line = next(json.loads(line) for line in json_lines if '"event": "turn"' in line)
    assert line["outcome"] == "interrupted" and line["channel"] == "widget"


def test_the_text_format_shows_the_timings_as_key_value_pairs():
    record = logging.makeLogRecord(
        {
            "name": TURN_LOGGER,
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "turn conversation=c1 bot=b1 channel=rest outcome=ok total_ms=12",
            "turn": {"event": "turn", "timings_ms": {"llm_ttfb": 5, "total": 12}},
        }
    )
    line = TextFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == "INFO voicebot.turns: turn conversation=c1 bot=b1 channel=rest outcome=ok total_ms=12 llm_ttfb_ms=5"


def test_voicebot_log_format_json_makes_every_line_json(tmp_path):
    import os
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    code = "import django, logging; django.setup(); logging.getLogger('voicebot.check').warning('hello %s', 'there')"
    env = {**os.environ, "VOICEBOT_LOG_FORMAT": "json", "VOICEBOT_ENV_FILE": "/nonexistent/.env"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello there" and line["logger"] == "voicebot.check" and line["level"] == "WARNING"
    env["VOICEBOT_LOG_FORMAT"] = "yaml"
    bad = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "VOICEBOT_LOG_FORMAT" in bad.stderr
