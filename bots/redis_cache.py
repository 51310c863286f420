"""Django's Redis cache backend, with native async methods and a one-round-trip `incr`.

Scaled out (REDIS_URL), every turn takes and frees the conversation's lock, counts the queue and
checks the rate limits and the bot configuration version in the cache: about fifteen commands per
widget turn. Django's RedisCache runs each `a*` method as its sync twin in the thread that
`sync_to_async` shares with all database work, so each command cost a thread hop both ways (and
waited behind queries), and `incr` was two round trips (EXISTS, then INCRBY). Here:

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
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_INCR_IF_EXISTS = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end"


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
