"""What the app does as the server starts and stops.

At start, it holds a SQLite database's write-ahead log open (``realtime.sqlite_wal``), ends
the sessions that stopped processes left open (``realtime.sweep``) and starts taking over
the calls whose sideband's process is gone (``realtime.sideband_leases``).
At stop, it drains the live sessions (``realtime.drain``: each client is told, both sides are
closed, each row ended, within ``REALTIME_SHUTDOWN_GRACE``), then closes the pooled
upstream client.

Servers that speak the ASGI lifespan protocol (uvicorn, hypercorn) say so through it.
Daphne does not implement lifespan, so under daphne these are Twisted "after startup" and
"before shutdown" triggers; daphne's reactor awaits the latter before it closes its
connections and stops the event loop. uvicorn closes every WebSocket (1012) before its
lifespan shutdown, so there each session ends as its consumer hears the close.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from realtime import db, drain, metrics, sideband_leases, sidebands, sqlite_wal, sweep, upstream
from realtime.conf import get_settings

ASGIApp = Any


class ServerLifecycle:
    """ASGI wrapper: at start, sweep what stopped processes left open; at stop, drain the
    live sessions and close the upstream client (lifespan events, or daphne's triggers)."""

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
                await _start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _shut_down(drain.live.drain(get_settings().shutdown_grace))
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _start() -> None:
    sqlite_wal.hold_open()
    await sweep.sweep_at_start()
    sidebands.start_adopting()


async def _shut_down(drained: asyncio.Future[None]) -> None:
    sideband_leases.adopter.stop()
    await drained
    await upstream.aclose()
    metrics.process_stopped()
    await asyncio.to_thread(db.close_connections)
    sqlite_wal.release()


def _register_with_daphne() -> None:
    # Look only at what is loaded: importing twisted.internet.reactor would install one.
    reactor = sys.modules.get("twisted.internet.reactor")
    loop = getattr(reactor, "_asyncioEventloop", None)
    if reactor is None or loop is None:
        return
    from twisted.internet.defer import Deferred

    def start() -> Deferred:
        return Deferred.fromFuture(asyncio.ensure_future(_start(), loop=loop))

    def stop() -> Deferred:
        # Called before daphne's own trigger (the application loads before daphne's server
        # runs), which means to cancel every application: a consumer cancelled from now on
        # drains itself. (daphne 4.2's trigger fails while a WebSocket is open, so the
        # drain cannot count on it.)
        drained = drain.live.drain(get_settings().shutdown_grace, loop=loop)
        return Deferred.fromFuture(asyncio.ensure_future(_shut_down(drained), loop=loop))

    reactor.addSystemEventTrigger("after", "startup", start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)
