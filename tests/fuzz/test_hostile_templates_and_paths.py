"""Hostile inputs that are not frames: Jinja2 sandbox escapes and `{{ }}` placeholders with hostile
expressions, path-like download tokens and ids, and oversized payloads. Nothing executes, nothing
leaks, nothing answers 5xx."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.templating import render_template
from integrations.replies import check_syntax, render_static_reply
from tests.fuzz.conftest import count_case
from tests.fuzz.strategies import PATH_LIKE

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').system('touch /tmp/pwned') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ config.items() }}",
    "{{ meta.__class__.__init__.__globals__ }}",
    "{% set x = namespace() %}{{ x.__class__.__mro__ }}",
    "{{ range(10**9)|list }}",
    "{{ 'a' * 10**9 }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_jinja2_sandbox_escapes_render_nothing_dangerous(source, tmp_path):
    output = render_static_reply(source, meta={"secret": "x"}, response={"data": 1}, args={})
    count_case()
    assert "subclasses" not in output and "<class" not in output and "environ" not in output
    assert "uid=" not in output and len(output) < 100_000
    assert not os.path.exists("/tmp/pwned")
    assert check_syntax(source) is None or isinstance(check_syntax(source), str)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    source=st.text(max_size=200).map(lambda s: "{{" + s + "}}") | st.text(max_size=300),
    meta=st.dictionaries(st.text(max_size=5), st.text(max_size=5) | st.integers(), max_size=3),
)
def test_placeholder_templates_never_raise(source, meta):
    render_template(source, meta)
    render_static_reply(source, meta=meta, response={}, args={})
    count_case()


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(token=PATH_LIKE | st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t and "\x00" not in t))
def test_path_like_download_tokens_are_404_not_files(token, client):
    from urllib.parse import quote

    response = client.get("/api/downloads/" + quote(token, safe=""))
    count_case()
    assert response.status_code in (400, 404, 410), response.status_code
    assert b"root:" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "1 OR 1=1", "x" * 5000])
def test_path_like_ids_in_rest_routes_are_refused_cleanly(bad_id, staff_api, bot):
    from urllib.parse import quote

    for url in (
        f"/api/bots/{quote(bad_id, safe='')}",
        f"/api/conversations/{quote(bad_id, safe='')}",
        f"/api/bots/{bot.pk}/tools/{quote(bad_id, safe='')}",
        f"/api/conversations?bot_id={quote(bad_id, safe='')}",
    ):
        response = staff_api.get(url)
        count_case()
        assert 400 <= response.status_code < 500 or response.status_code == 200, (url, response.status_code)


@pytest.mark.django_db
def test_hostile_tool_names_and_oversized_payloads_are_400(staff_api, bot):
    for name in ["../../etc/passwd", "a" * 500, "rm -rf /", "set_metadata", "", "x\x00y"]:
        response = staff_api.post(
            f"/api/bots/{bot.pk}/tools", {"name": name, "url": "https://api.example.com/x"}, format="json"
        )
        count_case()
        assert response.status_code == 400 and "detail" in response.json(), (name, response.content[:200])
    huge = {"name": "Big", "system_prompt": "x" * 3_000_000}
    response = staff_api.post("/api/bots", huge, format="json")
    count_case()
    assert response.status_code in (400, 413), response.status_code
    response = staff_api.post(f"/api/bots/{bot.pk}/chat", "{" * 100_000, content_type="application/json")
    count_case()
    assert 400 <= response.status_code < 500
