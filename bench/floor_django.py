"""``bench.floor``'s requests as async Django views: Django's request cycle and nothing else
(no middleware, no database, no apps), for ``bench/relay_overhead.py --targets
floor-django``."""

from __future__ import annotations

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.floor import COOKIE, forward


@csrf_exempt
async def page(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(b"floor")
    response["Set-Cookie"] = COOKIE
    return response


@csrf_exempt
async def relayed(request: HttpRequest) -> HttpResponse:
    answer = await forward(request.path, request.body, request.headers.get("Authorization", ""))
    response = HttpResponse(
        answer.content, status=answer.status_code, content_type=answer.headers["content-type"]
    )
    if location := answer.headers.get("location"):
        response["Location"] = location
    return response


urlpatterns = [
    path("", page),
    path("api/realtime/client-secret", relayed),
    path("api/realtime/handshake", relayed),
]

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    SECRET_KEY="floor-" + "x" * 44,
)
django.setup(set_prefix=False)
application = ASGIHandler()
