"""Bot configuration is cached per process and stays coherent across processes: a bot, key or tool
saved anywhere is seen fresh by every process on its next turn (bots.config_cache)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches

from bots.config_cache import VERSION_KEY, ConfigCache
from bots.models import Bot
from bots.services import bot_update
from conversations.engine.bot_config import turn_config
from tests.integrations.conftest import make_tool, run_turn_events
from tests.user_data import conversation_with


@pytest.fixture
def two_cache_clients(settings):
    """The default cache and a second client on the same LocMem store: two processes' view of Redis."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shared-config"},
        "other": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shared-config"},
    }
    caches["default"].clear()
    return ConfigCache("default"), ConfigCache("other")


def _prompt(entries: ConfigCache, bot_id) -> str:
    return entries.get(("prompt", str(bot_id)), lambda: Bot.objects.get(pk=bot_id).system_prompt)


def test_a_bot_saved_in_one_process_is_seen_fresh_by_another(bot, two_cache_clients):
    here, there = two_cache_clients
    assert _prompt(here, bot.pk) == _prompt(there, bot.pk) == "You help {{.firstName}}."
    bot_update(bot=bot, system_prompt="You sell shoes.")  # in "here"'s process: a new version in the shared cache
    assert _prompt(there, bot.pk) == "You sell shoes."
    assert _prompt(here, bot.pk) == "You sell shoes."


def test_an_unchanged_bot_is_not_read_again(bot, two_cache_clients, django_assert_num_queries):
    here, _ = two_cache_clients
    _prompt(here, bot.pk)
    with django_assert_num_queries(0):
        assert _prompt(here, bot.pk) == "You help {{.firstName}}."


def test_a_lost_version_never_matches_what_a_process_kept(bot, two_cache_clients):
    here, _ = two_cache_clients
    _prompt(here, bot.pk)
    # a state users cannot reach: a write that bypasses the services and their signals
    Bot.objects.filter(pk=bot.pk).update(system_prompt="Changed behind the signals.")
    caches["default"].delete(VERSION_KEY)  # evicted or flushed
    assert _prompt(here, bot.pk) == "Changed behind the signals."


def test_a_write_that_bypasses_signals_is_seen_after_the_maximum_age(bot, settings):
    entries = ConfigCache(max_age_s=0.0)
    _prompt(entries, bot.pk)
    # a state users cannot reach: a write that bypasses the services and their signals
    Bot.objects.filter(pk=bot.pk).update(system_prompt="Updated with QuerySet.update.")
    assert _prompt(entries, bot.pk) == "Updated with QuerySet.update."


def test_the_turn_configuration_follows_saves_of_the_bot_and_its_tools(bot, settings):
    settings.OPENAI_API_KEY = "sk-test"
    first = turn_config(bot.pk)
    assert turn_config(bot.pk) is first  # cached
    make_tool(bot, name="lookup_order", description="Look up an order", url="https://api.example.com/orders")
    with_tool = turn_config(bot.pk)
    assert with_tool is not first
    assert "lookup_order" in {tool.name for tool in with_tool.tools.offered}
    bot_update(bot=bot, disabled_tools=["lookup_order"])
    assert "lookup_order" not in {tool.name for tool in turn_config(bot.pk).tools.offered}


def test_a_turn_after_a_save_uses_the_new_prompt(bot, openai_double):
    conversation = conversation_with(bot, metadata={"firstName": "Ana"})
    async_to_sync(run_turn_events)(conversation, "hi")
    edited = Bot.objects.get(pk=bot.pk)  # a fresh instance, as the Studio's view would load it
    bot_update(bot=edited, system_prompt="You sell shoes to {{.firstName}}.")
    async_to_sync(run_turn_events)(conversation, "hi again")
    system = openai_double.requests[-1]["input"][0]["content"]
    assert system.endswith("You sell shoes to Ana.")
