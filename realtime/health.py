"""``GET /healthz``: whether this process can serve, for load balancers and orchestrators.

200 with ``{"status": "ok", "checks": {...}}`` when every dependency answers, 503 with what
is down otherwise. Each check is a cheap round trip (the default database's ``SELECT 1``),
never an OpenAI call: a process is healthy when it can record what it relays, whatever
OpenAI's state. What failed is named, never a credential (the error is masked).
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from realtime.answers import NO_STORE
from realtime.keys import redact

logger = logging.getLogger(__name__)


@database_sync_to_async
def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("health check: the database does not answer: %s", error)
        return f"down: {redact(str(error))[:200] or type(error).__name__}"
    return "ok"


@csrf_exempt  # it changes nothing: any other method is a plain 405
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": await _database()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
        headers=NO_STORE,
    )
