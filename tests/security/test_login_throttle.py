"""Login throttling: after VOICEBOT_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
address, the Studio and admin logins refuse that pair (429, "try again in N minutes"), even with the
right password, until the cool-off has passed; a success before the limit resets the count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

MESSAGE = "Too many failed login attempts. Try again in 15 minutes."


def _login(client: Client, password: str, *, path: str = "/login/"):
    return client.post(path, {"username": "staff", "password": password})


def test_thirty_wrong_passwords_are_refused_with_a_clear_message_after_the_limit(staff_user):
    client = Client()
    answers = [_login(client, f"wrong-{n}") for n in range(30)]

    limit = settings.AXES_FAILURE_LIMIT
    assert [a.status_code for a in answers[: limit - 1]] == [200] * (limit - 1)  # the form, with its error
    assert all(a.status_code == 429 for a in answers[limit:])
    assert MESSAGE in answers[-1].content.decode()
    refused = _login(client, STAFF_PASSWORD)
    assert refused.status_code == 429 and MESSAGE in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_shares_the_lockout(staff_user):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"wrong-{n}")

    refused = _login(client, STAFF_PASSWORD, path="/admin/login/")

    assert refused.status_code == 429 and MESSAGE in refused.content.decode()


def test_another_address_or_username_is_not_locked_out(staff_user):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(REMOTE_ADDR="203.0.113.5"), f"wrong-{n}")

    assert _login(Client(REMOTE_ADDR="203.0.113.6"), STAFF_PASSWORD).status_code == 302


def test_a_success_before_the_limit_resets_the_count(staff_user):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, f"wrong-{n}")
    assert _login(client, STAFF_PASSWORD).status_code == 302
    client.logout()

    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, f"again-{n}").status_code == 200
    assert _login(client, STAFF_PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(staff_user):
    from axes.models import AccessAttempt

    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"wrong-{n}")
    assert _login(client, STAFF_PASSWORD).status_code == 429

    attempt = AccessAttempt.objects.get(username="staff")
    # a state users cannot reach: failed attempts made longer ago than the cool-off
    attempt.attempt_time -= settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    attempt.save(update_fields=["attempt_time"])

    assert _login(client, STAFF_PASSWORD).status_code == 302


def test_a_json_client_gets_the_message_as_detail(staff_user):
    client = Client(HTTP_ACCEPT="application/json")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"wrong-{n}")

    refused = _login(client, STAFF_PASSWORD)

    assert refused.status_code == 429 and refused.json() == {"detail": MESSAGE}
