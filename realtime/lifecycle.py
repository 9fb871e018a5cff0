"""Closes the pooled upstream client when the server stops.

Servers that speak the ASGI lifespan protocol (uvicorn, hypercorn) say so through it.
Daphne does not implement lifespan, so under daphne the close is a Twisted "before
shutdown" trigger, which daphne's reactor awaits before it stops the event loop.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from realtime import upstream

ASGIApp = Any


class CloseUpstreamOnShutdown:
    """ASGI wrapper: answers lifespan events and closes the upstream client at shutdown."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        _register_with_daphne()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _register_with_daphne() -> None:
    # Look only at what is loaded: importing twisted.internet.reactor would install one.
    reactor = sys.modules.get("twisted.internet.reactor")
    loop = getattr(reactor, "_asyncioEventloop", None)
    if reactor is None or loop is None:
        return
    from twisted.internet.defer import Deferred

    def close() -> Deferred:
        return Deferred.fromFuture(asyncio.ensure_future(upstream.aclose(), loop=loop))

    reactor.addSystemEventTrigger("before", "shutdown", close)
