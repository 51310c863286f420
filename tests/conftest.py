"""Shared fixtures: named personas (staff, stranger, anonymous) and a test Fernet key.

Real database (pytest-django), real HTTP and websockets in the app folders' tests. Loopback test
doubles for remote services live in tests/doubles/.
"""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

TEST_FERNET_KEY = Fernet.generate_key().decode()
STAFF_PASSWORD = "staff-pass-123!"


def pytest_unconfigure(config):
    """Objects a test left for the garbage collector log at interpreter exit, through handlers whose
    streams pytest has already closed; their "--- Logging error ---" tracebacks came after the run's
    summary and hid it from CI's tail. Such leaks are tested where they matter (llm clients)."""
    logging.raiseExceptions = False


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Every test gets a usable secret key and its own data directory."""
    settings.VOICEBOT_SECRET_KEY = TEST_FERNET_KEY
    settings.MEDIA_ROOT = tmp_path / "data"
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    yield


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user(
        username="staff", password=STAFF_PASSWORD, email="staff@example.com", is_staff=True
    )


@pytest.fixture
def stranger_user(db):
    return get_user_model().objects.create_user(username="stranger", password="stranger-pass-123!", is_staff=False)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def stranger_client(client, stranger_user):
    client.force_login(stranger_user)
    return client


@pytest.fixture
def anonymous_client(client):
    return client


@pytest.fixture
def staff_api(staff_user):
    api = APIClient()
    api.force_authenticate(staff_user)
    return api


@pytest.fixture
def stranger_api(stranger_user):
    api = APIClient()
    api.force_authenticate(stranger_user)
    return api


@pytest.fixture
def anonymous_api():
    return APIClient()


@pytest.fixture
def bot(db):
    from bots.services import bot_create

    return bot_create(name="Test bot", system_prompt="You help {{.firstName}}.", openai_model="gpt-4o-mini")


@pytest.fixture
def openai_double(settings):
    """A loopback OpenAI API (tests/doubles/openai_server.py) that the real SDK reaches through
    OPENAI_BASE_URL. SDK retries are off so each scripted error is seen once."""
    from tests.doubles.openai_server import OpenAIDouble

    double = OpenAIDouble().start()
    settings.OPENAI_API_KEY = "sk-test-double"
    settings.OPENAI_BASE_URL = double.base_url
    settings.VOICEBOT_OPENAI_MAX_RETRIES = 0
    yield double
    double.stop()
