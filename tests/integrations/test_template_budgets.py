"""Template budgets: a static reply template (Jinja2) or a `{{ }}` placeholder template cannot build
more than VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB, a Jinja2 render stops at VOICEBOT_TEMPLATE_TIME_BUDGET_MS,
and it renders off the event loop, so a heavy one never stalls other conversations."""

from __future__ import annotations

import asyncio
import sys
import threading
import tracemalloc

import pytest
from asgiref.sync import async_to_sync

from conversations.engine.events import Done, ToolResult
from conversations.templating import TemplateBudgetError, render_template
from integrations.http_tool import RequestBuildError, build_request
from integrations.replies import render_reply, render_reply_async, render_static_reply
from tests.integrations.conftest import make_tool, run_turn_events

OUTPUT_ERROR = "template exceeded its output budget of 256 KiB"
MEMORY_CEILING = 32 * 1024 * 1024  # far above the 256 KiB budget, far below what the attacks build

GROWING = {
    "tilde doubling in a loop": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
    ),
    "tilde doubling without a loop": "{% set a = 'x' * 16 %}" + "{% set a = a ~ a %}" * 30 + "{{ a|length }}",
    "plus doubling": "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "format width": "{{ '%0200000000d'|format(1) }}",
    "percent width": "{{ '%0200000000d' % 1 }}",
    "percent precision": "{{ '%.200000000f' % 1.5 }}",
    "str.format width": "{{ '{:>200000000}'.format(1) }}",
    "str.format nested width": "{{ '{:>{}}'.format(1, 200000000) }}",
    "string times": "{{ 'x' * 200000000 }}",
    "list times": "{{ ([0] * 200000000)|length }}",
    "integer squaring": "{% set ns = namespace(n=10) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
    "join": "{% set big = ['x' * 60000] * 100 %}{{ big|join(',') }}",
    "str.join": "{% set big = ['x' * 60000] * 100 %}{{ ''.join(big)|length }}",
    "replace filter": "{% set s = 'x' * 60000 %}{{ s|replace('x', s)|length }}",
    "replace method": "{% set s = 'x' * 60000 %}{{ s.replace('x', s)|length }}",
    "center filter": "{{ 'x'|center(200000000)|length }}",
    "center method": "{{ 'x'.center(200000000)|length }}",
    "indent": "{{ ('a\\n' * 60000)|indent(60000)|length }}",
    "wordwrap": "{{ ('a ' * 30000)|wordwrap(1, wrapstring='x' * 60000)|length }}",
    "batch fill": "{{ [1]|batch(200000000, 'x')|list|length }}",
    "list extend doubling": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{{ ns.l.extend(ns.l) }}{% endfor %}{{ ns.l|length }}"
    ),
    "aliased nested lists printed": (
        "{% set a = [1,2,3,4,5,6,7,8] %}{% set b = [a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b] %}"
        "{% set d = [c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d] %}{% set f = [e,e,e,e,e,e,e,e] %}{{ f }}"
    ),
    "literal text repeated by a loop": "{% for i in range(100000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}",
    "lipsum": "{{ lipsum(100000) }}",
}


@pytest.mark.parametrize("source", GROWING.values(), ids=GROWING.keys())
def test_a_growing_template_is_refused_with_the_output_error_and_memory_stays_bounded(source):
    tracemalloc.start()
    try:
        with pytest.raises(TemplateBudgetError) as refused:
            render_reply(source, meta={}, response={}, args={})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(refused.value) == OUTPUT_ERROR
    assert peak < MEMORY_CEILING


def test_a_big_nested_loop_is_stopped_by_the_time_budget(settings):
    settings.VOICEBOT_TEMPLATE_TIME_BUDGET_MS = 200
    source = "{% for i in range(8000) %}{% for j in range(8000) %}{% endfor %}{% endfor %}done"
    with pytest.raises(TemplateBudgetError) as refused:
        render_reply(source, meta={}, response={}, args={})
    assert str(refused.value) == "template took longer than 200 ms"


def test_the_output_budget_follows_its_setting(settings):
    settings.VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB = 1
    with pytest.raises(TemplateBudgetError, match="output budget of 1 KiB"):
        render_reply("{{ 'x' * 2000 }}", meta={}, response={}, args={})
    assert render_reply("{{ 'x' * 1000 }}", meta={}, response={}, args={}) == "x" * 1000


def test_ordinary_templates_render_as_before():
    source = (
        "Hi {{ .firstName|upper }}: {% for d in response.data if d > 1 %}{{ loop.index }}/{{ loop.length }}={{ d }}"
        "{% if not loop.last %}, {% endif %}{% endfor %}. {{ '%05d'|format(42) }} {{ '{:>4}'.format('a') }} "
        "{{ ['a', 'b']|join('+') }} {{ 'a' ~ 1 }} {{ 'abc'.upper() }} {{ [1] + [2] }} {{ 'ab' * 2 }} {{ 2 ** 10 }} "
        "{% set ns = namespace(items=[]) %}{% for i in range(3) %}{{ ns.items.append(i) or '' }}{% endfor %}"
        "{{ ns.items }} {{ response|tojson }}"
    )
    text = render_reply(source, meta={"firstName": "Ana"}, response={"data": [1, 2, 3]}, args={})
    assert text == ('Hi ANA: 1/2=2, 2/2=3. 00042    a a+b a1 ABC [1, 2] abab 1024 [0, 1, 2] {"data": [1, 2, 3]}')


def test_the_fail_closed_renderer_still_gives_empty_text_for_a_refused_template():
    assert render_static_reply("{{ 'x' * 200000000 }}", meta={}, response={}, args={}) == ""


def test_placeholder_templates_cannot_multiply_a_large_value():
    meta = {"blob": "y" * 100_000}
    text = render_template("{{.blob}}" * 1000, {"meta": meta})
    assert len(text) <= 256 * 1024
    with pytest.raises(TemplateBudgetError, match=OUTPUT_ERROR):
        render_template("{{.blob}}" * 1000, {"meta": meta}, strict=True)
    assert render_template("Hi {{.name}}", {"meta": {"name": "Ana"}}) == "Hi Ana"


def test_a_request_template_that_multiplies_a_value_is_a_config_error():
    ctx = {"meta": {"blob": "y" * 100_000}, "args": {}}
    with pytest.raises(RequestBuildError, match=OUTPUT_ERROR):
        build_request(
            method="POST",
            url_template="https://api.example.com/x",
            headers_template="{}",
            body_template='{"a": "' + "{{meta.blob}}" * 100 + '"}',
            ctx=ctx,
        )
    with pytest.raises(RequestBuildError, match=OUTPUT_ERROR):
        build_request(
            method="GET",
            url_template="https://api.example.com/x?q=" + "{{meta.blob}}" * 100,
            headers_template="{}",
            body_template="",
            ctx=ctx,
        )


# --- off the event loop ------------------------------------------------------------------------------


def _template_running_in_another_thread() -> bool:
    """Is some other thread executing compiled Jinja2 template code right now?"""
    me = threading.get_ident()
    for ident, frame in sys._current_frames().items():
        while ident != me and frame is not None:
            if frame.f_code.co_filename == "<template>":
                return True
            frame = frame.f_back
    return False


HEAVY = "{% for i in range(8000) %}{% for j in range(8000) %}{% endfor %}{% endfor %}"


def test_a_heavy_render_leaves_the_event_loop_serving(settings):
    settings.VOICEBOT_TEMPLATE_TIME_BUDGET_MS = 2000

    async def scenario() -> list[str]:
        log: list[str] = []

        async def render() -> None:
            try:
                await render_reply_async(HEAVY, meta={}, response={}, args={})
            except TemplateBudgetError:
                pass
            log.append("render ended")

        async def other_work() -> None:
            while not _template_running_in_another_thread():
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)  # real work on the loop, done while the template still runs
            log.append("other work done" if _template_running_in_another_thread() else "render already over")

        await asyncio.gather(render(), other_work())
        return log

    assert async_to_sync(scenario)() == ["other work done", "render ended"]


@pytest.mark.django_db(transaction=True)
def test_a_heavy_template_inside_an_engine_turn_does_not_block_the_loop_and_ends_as_a_tool_error(
    settings, bot, conversation, mock_api, allow_loopback, openai_double
):
    settings.VOICEBOT_TEMPLATE_TIME_BUDGET_MS = 2000
    make_tool(bot, name="lookup", url=mock_api.url + "/health", static_reply_template=HEAVY)
    openai_double.queue_tool_call("lookup", {"args": {}})
    openai_double.queue_text("The reply template failed.")

    async def scenario() -> tuple[list, list[str]]:
        log: list[str] = []
        turn = asyncio.ensure_future(run_turn_events(conversation, "look it up"))

        async def other_work() -> None:
            while not _template_running_in_another_thread():
                if turn.done():
                    log.append("turn ended before the template ran")
                    return
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
            log.append("other work done while the template ran")

        await other_work()
        events = await turn
        return events, log

    events, log = async_to_sync(scenario)()
    assert log == ["other work done while the template ran"]
    result = [e for e in events if isinstance(e, ToolResult)][0].result
    assert result["ok"] is False
    assert result["error"] == {"type": "template_error", "message": "template took longer than 2000 ms"}
    assert [e for e in events if isinstance(e, Done)][-1].text == "The reply template failed."
