"""``GET /healthz``: whether this process can serve, for load balancers and orchestrators.

200 with ``{"status": "ok", "checks": {...}}`` when every dependency answers, 503 with what
is down otherwise. Each check is a cheap round trip, never an OpenAI call: a process is
healthy when it can record what it relays, whatever OpenAI's state. The database is always
checked (``SELECT 1``); the cache and the channel layer only when they live outside the
process (Redis, when several processes share them), since an in-memory one cannot be down.
What failed is named, never a credential (the error is masked).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from realtime import cache_ops
from realtime.answers import NO_STORE
from realtime.keys import redact

logger = logging.getLogger(__name__)

# A dependency that takes longer than this to answer counts as down: the probe itself must
# answer well within a load balancer's timeout.
CHECK_TIMEOUT = 3.0


# A connection of its own, opened for the check and closed after: the database threads'
# kept connections (realtime.db) would still answer from a SQLite file deleted under them.
@database_sync_to_async
def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _cache() -> None:
    key = f"realtime:health:{uuid.uuid4().hex}"
    await cache_ops.set(key, "ok", 10)
    if await cache_ops.get(key) != "ok":
        raise RuntimeError("a value just written could not be read back")
    await cache_ops.delete(key)


async def _channel_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.check"})
    await layer.receive(channel)


def _checks() -> dict[str, Callable[[], Awaitable[None]]]:
    """What this process depends on that lives outside it."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": _database}
    if cache_ops.shared():
        checks["cache"] = _cache
    layer = get_channel_layer()
    if layer is not None and not isinstance(layer, InMemoryChannelLayer):
        checks["channel_layer"] = _channel_layer
    return checks


async def _state(name: str, check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        logger.warning("health check: the %s did not answer within %s s", name, CHECK_TIMEOUT)
        return f"down: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:
        logger.warning("health check: the %s does not answer: %s", name, redact(str(error)))
        return f"down: {redact(str(error))[:200] or type(error).__name__}"
    return "ok"


@csrf_exempt  # it changes nothing: any other method is a plain 405
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    dependencies = _checks()
    states = await asyncio.gather(*(_state(name, check) for name, check in dependencies.items()))
    checks = dict(zip(dependencies, states, strict=True))
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
        headers=NO_STORE,
    )
