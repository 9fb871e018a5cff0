"""The app's database rounds from async code: a few long-lived threads that keep their
connections.

Channels' ``database_sync_to_async`` runs a round in the request's thread (or, outside a
request, in the one thread asgiref shares across the process) and closes that thread's
connections around it. Under an ASGI server every HTTP request has a thread of its own, and
Django's persistent connections are per thread, so each round opened a connection and
closed it again: for SQLite most of a request's database time, and a third of what the
relay adds to a handshake (README, "Benchmarks"). Here every round runs on a pool of
``REALTIME_DATABASE_THREADS`` threads, and each keeps its connection from one round to the
next: the app holds at most that many connections per process. A connection from Django's
pool (PostgreSQL's ``pool`` option) goes back to that pool after each round instead, and
one that failed and can no longer be used is closed, for the next round to open afresh.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from realtime.conf import get_settings

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_size = 0
_lock = threading.Lock()


def database_round(function: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """Make an async function of ``function``, which it runs on a database thread (in the
    caller's context: its log fields go along)."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        context = contextvars.copy_context()
        call = functools.partial(context.run, _round, function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(_threads(), call)

    return run


def _round(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return function(*args, **kwargs)
    finally:
        for connection in connections.all(initialized_only=True):
            _after_round(connection)


def _after_round(connection: BaseDatabaseWrapper) -> None:
    """Keep the thread's connection for the next round, unless it came from Django's pool
    (given back) or failed and can no longer be used (Django's own test, as at a request's
    end)."""
    if connection.connection is None:
        return
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        connection.close()
    elif connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def _threads() -> ThreadPoolExecutor:
    global _executor, _size
    if _executor is None:
        with _lock:
            if _executor is None:
                _size = get_settings().database_threads
                _executor = ThreadPoolExecutor(_size, thread_name_prefix="realtime-db")
    return _executor


def close_connections(timeout: float = 10.0) -> None:
    """Close the connections the database threads keep, and let the threads go (the process
    stops, or a test run drops its database); the next round starts anew."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is None:
        return
    # One task per thread: each waits for the others, so no thread takes two.
    everyone = threading.Barrier(_size)

    def close_here() -> None:
        connections.close_all()
        everyone.wait(timeout)

    try:
        for future in [executor.submit(close_here) for _ in range(_size)]:
            future.result(timeout)
    except (threading.BrokenBarrierError, TimeoutError):
        # A round still running (the drain waited for the sessions, not for stray rounds):
        # its thread's connection closes with the process.
        logger.warning("a database thread was still busy; its connection was left to close")
    finally:
        executor.shutdown(wait=False)
