"""Per-client limits kept in Django's cache: a fixed-window request limit, and a count of
open proxy sessions.

Fixed windows are cheap (one add or increment per request) and shared by every process
that shares the cache; their known cost is that a client may spend two windows' worth of
requests across a window boundary, which is acceptable for a token mint.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

from realtime import cache_ops

KEY_PREFIX = "realtime:ratelimit"


def client_key(user_id: int | None, client_ip: str | None) -> str:
    """Who a limit counts: the signed-in user, else the client's IP address."""
    return f"user:{user_id}" if user_id else f"ip:{client_ip or 'unknown'}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


async def hit(client: str, *, limit: int, window: int) -> Verdict:
    """Count one request by ``client``; refuse past ``limit`` per ``window`` seconds."""
    if limit == 0:
        return Verdict(allowed=True)
    now = time.time()
    bucket = int(now // window)
    key = f"{KEY_PREFIX}:{client}:{window}:{bucket}"
    count = await _increment(key, expires_in=window + 1)
    if count <= limit:
        return Verdict(allowed=True)
    return Verdict(allowed=False, retry_after=max(1, math.ceil((bucket + 1) * window - now)))


async def _increment(key: str, *, expires_in: int) -> int:
    """Count one more under ``key``, which expires ``expires_in`` seconds after it was
    first counted; the count. Atomic in every process sharing the cache."""
    if await cache_ops.add(key, 1, expires_in):
        return 1
    try:
        count = await cache_ops.incr(key)
    except ValueError:
        # The key expired between add and incr: this request opens the next window.
        await cache_ops.set(key, 1, expires_in)
        return 1
    if count == 1:
        # Redis's incr checks that the key exists, then increments: a key that expired in
        # between is made anew at 1, with no expiry. Give it one.
        await cache_ops.touch(key, expires_in)
    return count


SLOTS_PREFIX = "realtime:slots"


async def take_slot(client: str, *, limit: int, lifetime: float) -> bool:
    """Count one more open session for ``client``; refuse past ``limit`` open at once.

    The count lives in the cache, shared by every process that shares it. The caller owns a
    slot it was given until ``release_slot`` (the proxy: ``ProxySession.finish``, whatever
    ends the connection). The count expires ``lifetime`` seconds after the latest session
    started (no session outlives the session length limit), so a process that dies holding
    slots cannot lock a user out for good.
    """
    key = f"{SLOTS_PREFIX}:{client}"
    expires_in = int(lifetime) + 60
    count = await _increment(key, expires_in=expires_in)
    try:
        await cache_ops.touch(key, expires_in)
    except BaseException:
        await release_slot(client)  # counted, but never handed out: give it back
        raise
    if count <= limit:
        return True
    await release_slot(client)
    return False


async def release_slot(client: str) -> None:
    with contextlib.suppress(ValueError):  # expired already: nothing to give back
        await cache_ops.incr(f"{SLOTS_PREFIX}:{client}", -1)
