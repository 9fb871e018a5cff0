"""voiceproject.middleware: under ASGI, Django's middleware run their hooks on the event loop
and still do their work; MIDDLEWARE keeps Django's names for its deploy checks."""

from __future__ import annotations

import httpx
import pytest
from django.conf import settings
from django.utils import deprecation

from voiceproject.middleware import INLINE_VERSIONS, ASGIHandler, SessionMiddleware

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def thread_hops(monkeypatch) -> list[str]:
    """The hooks Django's MiddlewareMixin sends through a thread (sync_to_async)."""
    hops: list[str] = []
    real = deprecation.sync_to_async

    def counted(function, **kwargs):
        hops.append(getattr(function, "__qualname__", repr(function)))
        return real(function, **kwargs)

    monkeypatch.setattr(deprecation, "sync_to_async", counted)
    return hops


async def get(handler: ASGIHandler, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.get(path)


def test_middleware_keeps_djangos_names():
    assert set(INLINE_VERSIONS) <= set(settings.MIDDLEWARE)


async def test_the_page_goes_through_the_middleware_without_a_thread_hop(thread_hops):
    response = await get(ASGIHandler(), "/")

    assert response.status_code == 200
    assert thread_hops == []
    # What each middleware does, still done.
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "csrftoken" in response.cookies
    assert response.headers["Content-Length"] == str(len(response.content))


async def test_djangos_own_handler_hops_to_a_thread_for_every_hook(thread_hops):
    from django.core.handlers.asgi import ASGIHandler as DjangosHandler

    response = await get(DjangosHandler(), "/")

    assert response.status_code == 200
    assert len(thread_hops) >= 10


def test_a_session_that_changed_is_saved_through_a_thread(rf):
    request = rf.get("/")
    SessionMiddleware(lambda request: None).process_request(request)
    middleware = SessionMiddleware(lambda request: None)

    assert not middleware.response_blocks(request, None)
    request.session["seen"] = True
    assert middleware.response_blocks(request, None)
