"""The cache backends (bots/cache_backends.py): async methods without a thread hop. The Redis one reads
and writes the same keys as its sync methods and keeps `incr`'s contract in one round trip (needs
`redis-server`, the Debian package; those tests skip without it); the in-memory one answers inline."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from asgiref.sync import async_to_sync

from bots.cache_backends import RedisCache


@pytest.fixture(scope="module")
def redis_url():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def cache(redis_url):
    backend = RedisCache(redis_url, {})
    backend.clear()
    return backend


def test_sync_and_async_methods_share_keys_and_values(cache):
    async def scenario():
        assert await cache.aadd("lock", "token-1", timeout=30)
        assert not await cache.aadd("lock", "token-2", timeout=30)
        await cache.aset("config", {"version": "abc"}, timeout=None)
        return await cache.aget("counter"), await cache.ahas_key("lock")

    cache.set("counter", 3)
    counter, has_lock = async_to_sync(scenario)()
    assert counter == 3 and has_lock
    assert cache.get("lock") == "token-1"
    assert cache.get("config") == {"version": "abc"}
    async_to_sync(cache.adelete)("lock")
    assert cache.get("lock") is None


def test_incr_counts_existing_keys_and_refuses_missing_ones(cache):
    cache.add("waiting", 1, timeout=30)
    assert cache.incr("waiting") == 2
    assert async_to_sync(cache.aincr)("waiting", -1) == 1
    assert cache.get("waiting") == 1
    with pytest.raises(ValueError):
        cache.incr("missing")
    with pytest.raises(ValueError):
        async_to_sync(cache.aincr)("missing")
    assert cache.get("missing") is None  # a failed incr creates nothing


def test_a_zero_timeout_add_stores_nothing(cache):
    assert async_to_sync(cache.aadd)("gone", 1, timeout=0)
    assert cache.get("gone") is None


def test_the_in_memory_cache_answers_async_calls_inline():
    import threading

    from bots.cache_backends import LocMemCache

    local = LocMemCache("inline-test", {})
    seen: list[int] = []
    original = local.add

    def add(*args, **kwargs):
        seen.append(threading.get_ident())
        return original(*args, **kwargs)

    local.add = add

    async def scenario():
        assert await local.aadd("lock", "t", timeout=30)
        assert await local.aget("lock") == "t"
        local.set("n", 1)
        assert await local.aincr("n", 2) == 3
        return threading.get_ident()

    loop_thread = async_to_sync(scenario)()
    assert seen and seen[0] == loop_thread  # ran on the event loop's thread, no hop
