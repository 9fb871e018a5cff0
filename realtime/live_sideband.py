"""The server's own connection to a GPT-Live session relayed over WebRTC: its sideband.

A ``LiveSideband`` is a ``realtime.sideband.Sideband`` (leases, reattaching after drops,
drain and takeover, staff ending, the row's end) that speaks Live: it ``attach``es to the
session by id (``…/live/sessions/{id}/attach``, the server key), keeps a
``LiveConversationLog`` of what it hears, and runs the server's tools as the session's
Responses backend calls them (``realtime.tools.live_calls``).

Live reports its usage, which is what it bills, as a running total: the last report comes
in ``session.closed``, with the reason the session ended. So a hangup (the page's Stop,
staff's end) claims the record's end first, then lets the sideband hear the session out,
``session.closed`` included, rather than closing it before the hangup as Realtime's does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, TypeVar

from realtime import sideband_leases, upstream, upstream_live
from realtime.live_recorder import LiveConversationLog
from realtime.models import Api
from realtime.recorder import RecordKeeper
from realtime.sideband import Sideband
from realtime.tools import live_calls

T = TypeVar("T")
# How long a hangup waits for OpenAI to end the session, session.closed first, before the
# sideband closes anyway.
HEAR_OUT_SECONDS = 2.0


class LiveSideband(Sideband):
    """One Live session's sideband: attach, hear, reattach after drops, end the record once."""

    api: ClassVar[str] = Api.LIVE
    log_class: ClassVar[type[RecordKeeper]] = LiveConversationLog
    tools_for = staticmethod(live_calls.LiveToolCalls.for_session)

    async def _open(self) -> upstream.RelaySocket:
        return await upstream_live.attach_live_sideband(self.call.call_id)

    async def _resume(self) -> None:
        # The usage needs no resuming: the session's next report is its whole running total.
        totals, _items = await sideband_leases.recorded_so_far(self.call.session_id)
        self.log.totals.turns = totals.turns

    def _ended_upstream(self, close_reason: str) -> str:
        # session.closed says why (close_requested, expired, remote_hangup, …).
        return self.log.end_reason or super()._ended_upstream(close_reason)

    async def hang_up(self, reason: str, hang_up: Callable[[], Awaitable[T]]) -> T:
        """Hang the session up with ``hang_up``, the record's end being ``reason``; the
        sideband hears the session out (its final usage) for up to ``HEAR_OUT_SECONDS``.
        If the hangup fails, the session lives on, and so does its record."""
        claimed = not self.end_reason
        if claimed:
            self.end_reason = reason
        try:
            result = await hang_up()
        except BaseException:
            if claimed and self.task is not None and not self.task.done():
                self.end_reason = ""
            raise
        await self.stop(reason, hear_out=HEAR_OUT_SECONDS)
        return result
