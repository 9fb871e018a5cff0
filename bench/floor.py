"""The floor under the relay: its two requests forwarded with nothing of ours around them.

``bench/relay_overhead.py --targets floor-asgi floor-django`` serves these in place of the
project, under uvicorn as the project is served, so that one run shows what the stack
itself adds to a request (the server, Django's request cycle, the httpx client) beside
what the relay adds: no checks, no record, no sideband, no database.

- ``application``: a bare ASGI app.
- ``bench.floor_django``'s ``application``: one async Django view per request, no
  middleware and no database.

Both answer what the bench asks of the relay: ``GET /`` (a ``csrftoken`` cookie),
``POST /api/realtime/client-secret`` (a mint with the server key) and
``POST /api/realtime/handshake`` (the offer, with the request's ``Bearer ek_…`` or, without
one, the server key and a session: the unified flow). The upstream is ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

# What the relay asks of OpenAI for the bench's requests, and the bench straight: the same.
MINT_BODY = {
    "expires_after": {"anchor": "created_at", "seconds": 600},
    "session": {"type": "realtime", "model": "gpt-realtime-2.1"},
}
SESSION = b'{"type":"realtime","model":"gpt-realtime-2.1"}'
COOKIE = "csrftoken=floor; Path=/"

_client: httpx.AsyncClient | None = None


def _upstream() -> httpx.AsyncClient:
    """One client for the process, made on its event loop, as the relay's is."""
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=os.environ["OPENAI_BASE_URL"], timeout=30)
    return _client


async def forward(path: str, body: bytes, authorization: str) -> httpx.Response:
    """Make the upstream request the relay makes for ``path``."""
    server_key = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
    if path == "/api/realtime/client-secret":
        return await _upstream().post(
            "/realtime/client_secrets", json=MINT_BODY, headers=server_key
        )
    if authorization:
        return await _upstream().post(
            "/realtime/calls",
            content=body,
            headers={"Authorization": authorization, "Content-Type": "application/sdp"},
        )
    return await _upstream().post(
        "/realtime/calls",
        headers=server_key,
        files={
            "sdp": (None, body, "application/sdp"),
            "session": (None, SESSION, "application/json"),
        },
    )


def passed_on(answer: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The answer's headers the relay passes on: its type and, for a call, its Location."""
    headers = [(b"content-type", answer.headers.get("content-type", "").encode())]
    if location := answer.headers.get("location"):
        headers.append((b"location", location.encode()))
    return headers


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        for phase in ("startup", "shutdown"):
            await receive()
            await send({"type": f"lifespan.{phase}.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "GET":
        status, headers, content = 200, [(b"set-cookie", COOKIE.encode())], b"floor"
    else:
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode()
        answer = await forward(scope["path"], body, authorization)
        status, headers, content = answer.status_code, passed_on(answer), answer.content
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
