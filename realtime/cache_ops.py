"""Django's default cache from async code: increments that are atomic, and no thread for a
cache in this process's memory.

- Django's ``aincr`` and ``adecr`` (``BaseCache``'s, which every backend uses, Redis's too)
  read the value, then write it back: two steps that other requests come between. With 100
  requests at once against a limit of 10, all 100 were let through, and 100 sessions opened
  at once were counted as 2. ``incr`` here calls the backend's own ``incr``, which is atomic
  (Redis's INCRBY; the local-memory cache's lock).
- Django runs every other async method of the cache as its sync method on a thread. For
  the local-memory cache, a dict under a lock, the hop to the thread and back costs more
  than the work, so here its methods run in place. A cache with I/O to do (Redis) still
  runs on a thread, as Django runs it.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache


def shared() -> bool:
    """Whether the default cache is one for several processes (Redis), not this process's
    memory."""
    return not _in_memory(caches["default"])


def _in_memory(backend: BaseCache) -> bool:
    return isinstance(backend, LocMemCache | DummyCache)


async def _call(name: str, *args: Any) -> Any:
    """Call the default cache's sync method ``name``: in place, or on a thread."""
    backend = caches["default"]
    method = getattr(backend, name)
    if _in_memory(backend):
        return method(*args)
    return await sync_to_async(method, thread_sensitive=True)(*args)


async def add(key: str, value: Any, expires_in: float) -> bool:
    """Store ``value`` for ``expires_in`` seconds unless ``key`` holds one; whether it was
    stored."""
    return await _call("add", key, value, expires_in)


async def get(key: str) -> Any:
    return await _call("get", key)


async def set(key: str, value: Any, expires_in: float) -> None:
    await _call("set", key, value, expires_in)


async def touch(key: str, expires_in: float) -> bool:
    """Make ``key`` expire ``expires_in`` seconds from now; False if it holds nothing."""
    return await _call("touch", key, expires_in)


async def delete(key: str) -> bool:
    return await _call("delete", key)


async def incr(key: str, delta: int = 1) -> int:
    """Add ``delta`` to the number ``key`` holds, in one step; the new number. ValueError if
    it holds nothing (never set, or expired)."""
    return await _call("incr", key, delta)
