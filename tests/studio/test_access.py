"""Only staff users reach the Studio: anonymous visitors are sent to the login page, others see "staff only"."""

from __future__ import annotations

import pytest

from tests.conftest import STAFF_PASSWORD
from tests.studio.conftest import HTMX

PAGES = ["/", "/bots/new/", "/conversations/", "/keys/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(anonymous_client, url):
    response = anonymous_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_it_shows_a_staff_only_page_to_signed_in_non_staff_users(stranger_client, url):
    response = stranger_client.get(url)
    assert response.status_code == 403
    assert b"Staff only" in response.content


@pytest.mark.django_db
def test_it_tells_htmx_to_go_to_the_login_page_instead_of_swapping_it_in(anonymous_client):
    response = anonymous_client.get("/conversations/", **HTMX)
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith("/login/?next=")


def test_it_logs_a_staff_user_in_and_shows_the_dashboard(anonymous_client, staff_user):
    page = anonymous_client.get("/login/")
    assert b"Log in" in page.content
    response = anonymous_client.post("/login/", {"username": "staff", "password": STAFF_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert b"Create, configure and test voice bots." in response.content


def test_it_says_why_a_login_failed(anonymous_client, staff_user):
    response = anonymous_client.post("/login/", {"username": "staff", "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_it_logs_out_with_a_post(staff_client):
    response = staff_client.post("/logout/")
    assert response.status_code == 302
    assert staff_client.get("/").status_code == 302


def test_it_shows_the_navigation_with_the_current_page_marked(staff_client):
    html = staff_client.get("/conversations/").content.decode()
    for label in ("Bots", "Conversations", "Keys", "Admin", "API docs"):
        assert f">{label}</a>" in html
    assert 'href="/conversations/" aria-current="page"' in html


def test_it_requires_a_csrf_token_on_studio_forms(staff_user, client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    response = strict.post("/bots/new/", {"name": "x"})
    assert response.status_code == 403


def test_it_refuses_changes_from_signed_in_non_staff_users(stranger_client, bot):
    from bots.models import Bot

    assert stranger_client.post(f"/bots/{bot.id}/delete/").status_code == 403
    assert stranger_client.post(f"/bots/{bot.id}/", {"name": "Taken over"}).status_code == 403
    assert stranger_client.post("/keys/client/", {"client-name": "x"}).status_code == 403
    assert Bot.objects.get(pk=bot.pk).name == "Test bot"
