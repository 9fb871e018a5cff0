"""The live sessions this process carries, and draining them when it stops.

Whatever carries a live session in this process (a proxied WebSocket; later the sideband
of a WebRTC call) holds a place in ``live`` while it runs. When the server stops (daphne's
"before shutdown" trigger or the ASGI lifespan shutdown: ``realtime.lifecycle``),
``live.drain`` refuses new sessions at once and drains every live one together: each tells
its client why, closes its upstream and ends its record, within ``REALTIME_SHUTDOWN_GRACE``
seconds. Only then does the server close its connections and exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Protocol

from realtime import metrics

logger = logging.getLogger(__name__)

# What ending a session may take after its grace: closing its upstream (a 1 s close
# timeout) and writing its record.
FINISH_ALLOWANCE = 3.0


class Drainable(Protocol):
    def drain(self, grace: float) -> Awaitable[None]:
        """Tell the client this server is stopping, close both sides and end the record,
        within ``grace`` seconds."""


class Registry:
    """The live sessions of this process."""

    def __init__(self) -> None:
        self._held: set[Drainable] = set()
        self._emptied: asyncio.Event | None = None  # made by a drain, on its own loop
        self.draining = False

    def hold(self, item: Drainable) -> bool:
        """Count ``item`` as live until ``release``. False once the process is draining:
        the item is counted still (a drain waits for it), but must end at once."""
        if item not in self._held:
            self._held.add(item)
            metrics.session_opened(getattr(item, "transport", "unknown"))
        return not self.draining

    def release(self, item: Drainable) -> None:
        if item in self._held:
            self._held.discard(item)
            metrics.session_closed(getattr(item, "transport", "unknown"))
        if not self._held and self._emptied is not None:
            self._emptied.set()

    def __len__(self) -> int:
        return len(self._held)

    def drain(
        self, grace: float, loop: asyncio.AbstractEventLoop | None = None
    ) -> asyncio.Future[None]:
        """Refuse new sessions from now on and drain the live ones; the future is done once
        none is held, at most ``grace`` seconds and the finishing allowance later."""
        self.draining = True
        return asyncio.ensure_future(self._drain_all(grace), loop=loop)

    async def _drain_all(self, grace: float) -> None:
        if not self._held:
            return
        logger.info("draining %d live realtime sessions", len(self._held))
        self._emptied = asyncio.Event()
        tasks = {asyncio.ensure_future(item.drain(grace)): item for item in list(self._held)}
        try:
            # Sessions refused meanwhile are held too, until they have ended.
            async with asyncio.timeout(grace + FINISH_ALLOWANCE):
                await self._emptied.wait()
        except TimeoutError:
            logger.error("%d realtime sessions did not end within the grace", len(self._held))
        for task, item in tasks.items():
            if not task.done():
                task.cancel()  # the process stops now either way
            elif not task.cancelled() and task.exception() is not None:
                logger.error("could not drain %r", item, exc_info=task.exception())


live = Registry()
