"""What stands in front of the API views, so that every request to them is answered in
their JSON shape and leaves one row, even where Django would answer it first.

- ``ApiErrorsMiddleware`` (Django middleware, first in ``MIDDLEWARE``): a Host outside
  ``ALLOWED_HOSTS``, which ``CommonMiddleware`` would refuse with an HTML 400 before any
  view runs, and any answer a view did not make (an HTML error page, a redirect).
- ``ApiBodyLimit`` (ASGI, around Django's application): Django reads a whole body before
  any view runs, whatever its size and however it is framed; this passes at most one byte
  past ``MAX_BODY_BYTES`` on, so the view sees that it is too large and answers 413.

Both know the API's views by resolving the path, so they hold under any URL prefix.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import get_script_prefix
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from realtime.conf import MAX_BODY_BYTES
from realtime.endpoints import ApiEndpoint, RelayAttempt
from realtime.models import Outcome

ASGIApp = Any


def api_endpoint_at(path_info: str, urlconf: str | None = None) -> ApiEndpoint | None:
    """Return the API endpoint a path resolves to, or None for any other path."""
    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return None
    return getattr(match.func, "api_endpoint", None)


class ApiErrorsMiddleware:
    """Answer and record, as the API views do, what Django would answer in their place."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = api_endpoint_at(request.path_info, getattr(request, "urlconf", None))
        if endpoint is None:
            return await self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost:
            return await RelayAttempt(request, endpoint).refuse("invalid_host")
        response = await self.get_response(request)
        attempt = getattr(request, "realtime_attempt", None)
        if attempt is not None and attempt.recorded:
            return response  # the view's own answer, recorded
        # The view never finished (it raised) or never ran (a middleware answered): this
        # answer is Django's, so it is ours to make and record.
        attempt = attempt or RelayAttempt(request, endpoint)
        if response.status_code < 400:
            attempt.exchange.outcome = Outcome.REJECTED
            return await attempt.finish(response)
        code = "internal_error" if response.status_code >= 500 else "bad_request"
        answer = await attempt.refuse(code)
        # Django logged its own answer as it made it (with the traceback, if any): the one
        # that replaces it needs no second log line (django.utils.log.log_response).
        answer._has_been_logged = getattr(response, "_has_been_logged", False)
        return answer


class ApiBodyLimit:
    """ASGI wrapper: a request to an API view passes at most ``MAX_BODY_BYTES + 1`` body
    bytes on, then its body ends; what the client sends beyond is read and dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and api_endpoint_at(_path_info(scope)) is not None:
            receive = _capped(receive, MAX_BODY_BYTES + 1)
        await self.app(scope, receive, send)


def _path_info(scope: dict[str, Any]) -> str:
    """The path as Django resolves it: without the script prefix (``root_path``)."""
    return scope["path"].removeprefix(get_script_prefix(scope))


def _capped(receive: Any, most: int) -> Any:
    taken = 0
    ended = False

    async def receive_capped() -> dict[str, Any]:
        nonlocal taken, ended
        if ended:
            # Django listens for the disconnect once the body has ended; the client may
            # still be sending the rest of an oversized one.
            while (message := await receive())["type"] == "http.request":
                pass
            return message
        message = await receive()
        if message["type"] != "http.request":
            return message
        body = message.get("body", b"")[: most - taken]
        taken += len(body)
        ended = taken >= most or not message.get("more_body", False)
        return {**message, "body": body, "more_body": not ended}

    return receive_capped
