"""Django's CSRF check as a verdict a view can answer itself, instead of the middleware's
HTML 403: the API views answer a failure in their JSON shape and record it like any other
refusal."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Return the reason Django's CSRF check fails this request, or None if it passes.

    The token is taken from the ``X-CSRFToken`` header only, as the page sends it: the API
    takes no forms, and Django's check would otherwise parse a form body for its field,
    turning a broken multipart boundary or too many fields into an HTML 400 of its own.
    """
    request.POST = QueryDict()
    check = _CsrfCheck(lambda request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})
