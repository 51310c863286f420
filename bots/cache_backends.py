"""The project's cache backends: Django's, with async methods that do not hop threads.

Every turn takes and frees the conversation's lock, checks the rate limits and reads the bot
configuration version in the cache. Django runs each `a*` cache method as its sync twin through
`sync_to_async(thread_sensitive=True)`: the one thread that all database work shares, so each lock
command waited behind queries and cost two thread switches (docs/performance.md).

`LocMemCache` (one process, `make run`): the async methods run the in-memory operation inline; it
takes microseconds and does no I/O, so the event loop never waits on it.

`RedisCache` (scaled out, REDIS_URL):
- `aget`, `aadd`, `aset`, `adelete`, `aincr`, `ahas_key` use `redis.asyncio` on the running event
  loop (one client per loop: a connection belongs to the loop that opened it);
- `incr` (sync and async) is one atomic script: INCRBY if the key exists, else ValueError, as before;
- the sync client object is built once per connection pool, not once per command.

Values are written with Django's own serializer, so sync and async callers read each other's keys.
A cache with several servers (primary and replicas) or custom pool options keeps Django's behaviour.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import redis.asyncio
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache as DjangoLocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_INCR_IF_EXISTS = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end"


class LocMemCache(DjangoLocMemCache):
    async def aget(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self.get(key, default, version)

    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self.add(key, value, timeout, version)

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        self.set(key, value, timeout, version)

    async def adelete(self, key: Any, version: Any = None) -> bool:
        return self.delete(key, version)

    async def ahas_key(self, key: Any, version: Any = None) -> bool:
        return self.has_key(key, version)

    async def aincr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self.incr(key, delta, version)


class _Client(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django builds a redis.Redis per command (its __init__ builds a dict of response callbacks:
        # a few % of the server's CPU per turn); one per pool is enough, they are thread-safe.
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client

    def incr(self, key: Any, delta: int) -> int:
        value = self.get_client(key, write=True).eval(_INCR_IF_EXISTS, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _Client
        self._native_async = len(self._servers) == 1 and not self._options
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )

    def _aclient(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = redis.asyncio.Redis.from_url(self._servers[0])
        return client

    async def aget(self, key: Any, default: Any = None, version: Any = None) -> Any:
        if not self._native_async:
            return await super().aget(key, default, version)
        value = await self._aclient().get(self.make_and_validate_key(key, version=version))
        return default if value is None else self._cache._serializer.loads(value)

    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        if not self._native_async:
            return await super().aadd(key, value, timeout, version)
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        client, data = self._aclient(), self._cache._serializer.dumps(value)
        if timeout == 0:
            if added := bool(await client.set(key, data, nx=True)):
                await client.delete(key)
            return added
        return bool(await client.set(key, data, ex=timeout, nx=True))

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        if not self._native_async:
            return await super().aset(key, value, timeout, version)
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            await self._aclient().delete(key)
        else:
            await self._aclient().set(key, self._cache._serializer.dumps(value), ex=timeout)

    async def adelete(self, key: Any, version: Any = None) -> bool:
        if not self._native_async:
            return await super().adelete(key, version)
        return bool(await self._aclient().delete(self.make_and_validate_key(key, version=version)))

    async def ahas_key(self, key: Any, version: Any = None) -> bool:
        if not self._native_async:
            return await super().ahas_key(key, version)
        return bool(await self._aclient().exists(self.make_and_validate_key(key, version=version)))

    async def aincr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        if not self._native_async:
            return await super().aincr(key, delta, version)
        key = self.make_and_validate_key(key, version=version)
        value = await self._aclient().eval(_INCR_IF_EXISTS, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value
