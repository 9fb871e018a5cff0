"""A per-client fixed-window request limit kept in Django's cache.

Fixed windows are cheap (one add or increment per request) and shared by every process
that shares the cache; their known cost is that a client may spend two windows' worth of
requests across a window boundary, which is acceptable for a token mint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache

KEY_PREFIX = "realtime:ratelimit"


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
    if await cache.aadd(key, 1, timeout=expires_in):
        return 1
    try:
        return await cache.aincr(key)
    except ValueError:
        # The key expired between add and incr: this request opens the next window.
        await cache.aset(key, 1, timeout=expires_in)
        return 1
