"""CSRF on the Studio's forms (the Django test client with CSRF checks on, as a browser is), and the
Studio talk socket refusing a foreign Origin and anonymous visitors."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from bots.models import Bot


@pytest.fixture
def csrf_client(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_a_studio_form_post_without_the_csrf_token_is_refused(csrf_client):
    response = csrf_client.post("/bots/new/", {"name": "Forged"})
    assert response.status_code == 403
    assert not Bot.objects.filter(name="Forged").exists()


@pytest.mark.django_db
def test_a_studio_form_post_with_the_csrf_token_is_accepted(csrf_client):
    csrf_client.get("/bots/new/")
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post("/bots/new/", {"name": "Real", "csrfmiddlewaretoken": token})
    assert response.status_code != 403


@pytest.mark.django_db
def test_the_login_form_needs_the_csrf_token(staff_user):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "staff", "password": "staff-pass-123!"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_studio_delete_from_a_foreign_page_is_refused(csrf_client, bot):
    response = csrf_client.post(f"/bots/{bot.pk}/delete/", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert Bot.objects.filter(pk=bot.pk).exists()


@pytest.mark.django_db(transaction=True)
async def test_the_talk_socket_refuses_a_foreign_origin_even_with_a_staff_session(bot, staff_user):
    from asgiref.sync import sync_to_async

    from config.asgi import application
    from tests.audio.test_talk_socket import _session_cookie

    cookie = await sync_to_async(_session_cookie)(staff_user)
    for origin in (b"https://evil.example", b"null", b"http://testserver.evil.example"):
        ws = WebsocketCommunicator(
            application,
            f"/ws/bots/{bot.pk}/talk",
            headers=[(b"origin", origin), (b"cookie", f"sessionid={cookie}".encode())],
        )
        connected, _ = await ws.connect()
        assert not connected, origin
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_talk_socket_refuses_an_anonymous_visitor(bot):
    from config.asgi import application

    ws = WebsocketCommunicator(application, f"/ws/bots/{bot.pk}/talk", headers=[(b"origin", b"http://testserver")])
    connected, _ = await ws.connect()
    if connected:
        event = json.loads(await ws.receive_from(timeout=5))
        assert event == {"type": "error", "error": "Authentication required"}
        assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await ws.disconnect()
