"""The project's ASGI application with a query counter, for the embed benchmark's server processes.

Every database connection the server opens gets an execute wrapper that counts statements, and
`GET /__bench/stats` answers `{"queries": N, "pid": P, "gc_ms": T, "gc_full_ms": [...]}`, so the
benchmark can report queries per chat turn of the real widget path (consumer, admission, engine,
writes) and the garbage collector's pauses (`gc.callbacks`: all collections' time, and each full
collection's, which stops the event loop). The benchmark reads the process's CPU time from /proc
itself. Only `tests/bench/bench_embed.py` starts a server with this.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import time

from django.db.backends.signals import connection_created

from config.asgi import application as _project

_counter = itertools.count()  # next() is atomic under the GIL; the DB runs on several threads


_LOG = os.environ.get("BENCH_SQL_LOG")  # a file: every statement, one per line (to see what a turn runs)


def _count(execute, sql, params, many, context):
    next(_counter)
    if _LOG:
        with open(_LOG, "a") as log:
            log.write(sql.replace("\n", " ")[:300] + "\n")
    return execute(sql, params, many, context)


def _instrument(sender, connection, **kwargs) -> None:
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


connection_created.connect(_instrument, weak=False)


_gc = {"started": 0.0, "ms": 0.0, "full_ms": []}


def _time_collections(phase: str, info: dict) -> None:
    if phase == "start":
        _gc["started"] = time.perf_counter()
        return
    ms = (time.perf_counter() - _gc["started"]) * 1000
    _gc["ms"] += ms
    if info["generation"] == 2:
        _gc["full_ms"].append(round(ms, 2))


gc.callbacks.append(_time_collections)


def _queries() -> int:
    return int(repr(_counter)[6:-1])  # "count(N)": read without taking a number


async def application(scope, receive, send):
    if scope["type"] == "http" and scope.get("path") == "/__bench/stats":
        stats = {"queries": _queries(), "pid": os.getpid(), "gc_ms": _gc["ms"], "gc_full_ms": _gc["full_ms"]}
        body = json.dumps(stats).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    await _project(scope, receive, send)
