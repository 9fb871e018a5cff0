"""This process's sidebands (``realtime.sideband``), one per relayed WebRTC call.

``Sidebands`` is the one interface the rest of the app uses; ``LocalSidebands`` runs each
sideband as a task of this process, registered with ``realtime.drain`` so that a stopping
server drains them. Across processes a call has one sideband, whose holder keeps the call's
lease (``realtime.sideband_leases``): a killed holder's calls are taken over by another
process, and a draining one hands them over when the cache is shared (Redis), else ends
their records cleanly. A GPT-Live session relayed over WebRTC has a sideband too
(``realtime.live_sideband``), kept the same way: the row's ``api`` says which kind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest

from realtime import drain, sideband_leases
from realtime.diagnostics import Exchange
from realtime.live_sideband import LiveSideband
from realtime.models import Api
from realtime.sideband import Sideband, WatchedCall

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Each API's sideband, by the api of the call's row.
SIDEBAND_CLASSES: dict[str, type[Sideband]] = {Api.REALTIME: Sideband, Api.LIVE: LiveSideband}


class Sidebands(Protocol):
    def watch(self, call: WatchedCall) -> None:
        """Attach a sideband to ``call`` and record it until the call ends; never waits."""

    async def stop(self, call_id: str, reason: str) -> bool:
        """End the call's sideband, recording ``reason`` (``hangup``); False if no sideband
        of this process watches the call."""

    async def hang_up(self, call_id: str, reason: str, hang_up: Callable[[], Awaitable[T]]) -> T:
        """Hang the call up with ``hang_up`` (its result), its sideband's end being
        ``reason`` (``hangup``) rather than the close the hangup brings."""

    async def stop_all(self, reason: str) -> None:
        """End every sideband, recording ``reason``."""


class LocalSidebands:
    """Sidebands as tasks of this process, one per call."""

    def __init__(self) -> None:
        self.by_call: dict[str, Sideband] = {}

    def watch(self, call: WatchedCall) -> None:
        if call.call_id in self.by_call:
            return
        sideband = SIDEBAND_CLASSES[call.api](call, self._ended)
        if not drain.live.hold(sideband):
            # The server is stopping: another process takes the call, or its row says why
            # it is not recorded past its answer.
            sideband.refuse_while_draining()
        self.by_call[call.call_id] = sideband
        sideband.start()

    def holds(self, call_id: str) -> bool:
        return call_id in self.by_call

    def adopt(self, call: dict) -> None:
        """Watch an open call whose lease this process has just taken (sideband_leases)."""
        self.watch(
            WatchedCall(
                call["call_id"],
                call["id"],
                call["model"],
                user_id=call["user_id"],
                client_ip=call["client_ip"],
                adopted=True,
                api=call["api"],
            )
        )

    def start_adopting(self) -> None:
        """Take over the calls other processes lost, from now on (at server start)."""
        if sideband_leases.sidebands_wanted():
            sideband_leases.adopter.start(self.adopt, self.holds)

    async def stop(self, call_id: str, reason: str) -> bool:
        sideband = self.by_call.get(call_id)
        if sideband is None:
            return False
        await sideband.stop(reason)
        return True

    async def hang_up(self, call_id: str, reason: str, hang_up: Callable[[], Awaitable[T]]) -> T:
        sideband = self.by_call.get(call_id)
        if sideband is None:
            return await hang_up()
        return await sideband.hang_up(reason, hang_up)

    async def stop_all(self, reason: str) -> None:
        """End every sideband of this event loop (a loop that has ended took its own along)."""
        loop = asyncio.get_running_loop()
        for call_id, sideband in list(self.by_call.items()):
            if sideband.task is None or sideband.task.get_loop() is not loop:
                del self.by_call[call_id]
                drain.live.release(sideband)
        await asyncio.gather(*(sideband.stop(reason) for sideband in list(self.by_call.values())))

    def _ended(self, sideband: Sideband) -> None:
        if self.by_call.get(sideband.call.call_id) is sideband:
            del self.by_call[sideband.call.call_id]
        drain.live.release(sideband)


_local = LocalSidebands()


def watch_relayed_call(request: HttpRequest, exchange: Exchange) -> None:
    """Watch the call a relayed (and recorded) ``exchange`` started, if conversations are
    recorded and its session has a row to hang the record on.

    Only under an ASGI server: under WSGI each async view runs on an event loop of its own
    that ends with the request, and a sideband would end with it.
    """
    if exchange.session_id is None or not exchange.call_id:
        return
    if not sideband_leases.sidebands_wanted():
        return  # off, or nothing to hear for: no record to keep, no tool to run
    if not isinstance(request, ASGIRequest):
        logger.warning("call %s has no sideband: sidebands need an ASGI server", exchange.call_id)
        return
    sidebands().watch(
        WatchedCall(
            exchange.call_id,
            exchange.session_id,
            exchange.model,
            user_id=exchange.user_id,
            client_ip=exchange.client_ip,
            api=exchange.api,
        )
    )


def start_adopting() -> None:
    """Take over, from now on, the calls whose sideband's process is gone."""
    _local.start_adopting()


def sidebands() -> Sidebands:
    """The sidebands of this deployment (this process's, for now)."""
    return _local
