"""Unknown API paths answer JSON, so API clients never have to parse an HTML error page."""

from __future__ import annotations


def test_it_answers_json_for_an_api_path_that_matches_no_route(staff_api):
    response = staff_api.get("/api/bots/not-a-uuid")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_it_answers_html_for_an_unknown_studio_path(staff_client):
    response = staff_client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
