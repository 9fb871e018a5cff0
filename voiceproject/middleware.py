"""Django's standard middleware, their hooks run on the event loop under an ASGI server.

Under ASGI, Django's ``MiddlewareMixin`` runs each ``process_request`` and
``process_response`` through ``sync_to_async`` (a hop to the request's thread and back,
in case the hook blocks), and the handler does the same for each ``process_view``: with
the project's middleware that is fifteen thread hops for every request (README,
"Benchmarks"). These hooks only read the request and set headers, cookies and lazy
attributes, so here they run inline; a step that touches storage (saving a session that
changed, messages the request used, a CSRF token kept in the session) still goes through a
thread.

``MIDDLEWARE`` keeps Django's names, which its deploy checks look for (a renamed
``SecurityMiddleware`` would silently skip the HSTS and HTTPS checks): ``ASGIHandler`` loads
these versions in their place. Under WSGI, and in Django's test client, nothing changes.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from csp import middleware as csp
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.handlers import asgi
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from django.test.utils import override_settings


class InlineHooks:
    """Run a ``MiddlewareMixin``'s hooks on the event loop in async mode.

    ``blocks`` says when every hook may block after all, ``response_blocks`` when
    ``process_response`` may: such hooks run in a thread, as Django would run them.
    """

    get_response: Any
    async_mode: bool

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        if self.async_mode and hasattr(self, "process_view"):
            # The handler adapts a sync process_view with sync_to_async, an async one not.
            view_hook = self.process_view

            async def process_view(request: HttpRequest, *args: Any) -> HttpResponseBase | None:
                if self.blocks(request):
                    return await sync_to_async(view_hook)(request, *args)
                return view_hook(request, *args)

            self.process_view = process_view

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self.blocks(request):
            return await super().__acall__(request)  # type: ignore[misc]
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_blocks(request, response):
                response = await sync_to_async(self.process_response)(request, response)
            else:
                response = self.process_response(request, response)
        return response

    def blocks(self, request: HttpRequest) -> bool:
        return False

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class CSPMiddleware(InlineHooks, csp.CSPMiddleware):
    pass


class SessionMiddleware(InlineHooks, sessions.SessionMiddleware):
    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    def blocks(self, request: HttpRequest) -> bool:
        # With CSRF_USE_SESSIONS every hook may read or write the session (its storage).
        return settings.CSRF_USE_SESSIONS


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


# Each of Django's (and django-csp's) middleware, by the name MIDDLEWARE gives it, and the
# version of it here.
INLINE_VERSIONS = {
    "django.middleware.security.SecurityMiddleware": SecurityMiddleware,
    "csp.middleware.CSPMiddleware": CSPMiddleware,
    "django.contrib.sessions.middleware.SessionMiddleware": SessionMiddleware,
    "django.middleware.common.CommonMiddleware": CommonMiddleware,
    "django.middleware.csrf.CsrfViewMiddleware": CsrfViewMiddleware,
    "django.contrib.auth.middleware.AuthenticationMiddleware": AuthenticationMiddleware,
    "django.contrib.messages.middleware.MessageMiddleware": MessageMiddleware,
    "django.middleware.clickjacking.XFrameOptionsMiddleware": XFrameOptionsMiddleware,
}


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler, loading the versions above for the middleware they stand for."""

    def load_middleware(self, is_async: bool = False) -> None:
        inline = [
            f"{__name__}.{INLINE_VERSIONS[path].__name__}" if path in INLINE_VERSIONS else path
            for path in settings.MIDDLEWARE
        ]
        # Once, as the server process loads the application, before it serves anything.
        with override_settings(MIDDLEWARE=inline):
            super().load_middleware(is_async)
