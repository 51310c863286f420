"""Schemathesis against our own OpenAPI schema (`/api/schema/`), in-process on the WSGI app as a staff
user (DRF token): every documented operation gets generated valid and invalid requests, and none may
answer 5xx. Path ids point at a real bot (with the packaged voice models, so talk/stream runs ASR on
whatever bytes it is sent) and the chat routes reach the loopback OpenAI double."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings

from tests.audio.conftest import asr_model_dir, piper_voice_path, voice_bot  # noqa: F401 (fixtures)
from tests.fuzz.conftest import count_case

_STATE: dict[str, str] = {}


@pytest.fixture
def api_schema(transactional_db, settings, staff_user, voice_bot, openai_double):  # noqa: F811
    from tests.user_data import api_token

    settings.ALLOWED_HOSTS = ["*"]
    settings.VOICEBOT_HTTP_CONNECT_TIMEOUT_S = 1.0
    settings.VOICEBOT_HTTP_READ_TIMEOUT_S = 1.0
    _STATE["auth"] = f"Token {api_token(staff_user)}"
    _STATE["bot_id"] = str(voice_bot.pk)
    return schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", get_wsgi_application(), headers={"Authorization": _STATE["auth"]}
    )


def test_no_generated_request_gets_a_server_error(api_schema):
    """One hypothesis run per operation (schemathesis' pytest plugin does not load on pytest 9)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:

        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            if "bot_id" in (case.path_parameters or {}):
                case.path_parameters["bot_id"] = _STATE["bot_id"]
            response = case.call(headers={"Authorization": _STATE["auth"]})
            count_case()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        check()
    assert failures == []
