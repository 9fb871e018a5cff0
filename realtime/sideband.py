"""The server's own connection to a live WebRTC call: its sideband, which records the call
and runs the server's tools for it.

Once a call is relayed, ``realtime.sidebands`` starts a ``Sideband``, which attaches to it
(``wss://…/realtime?call_id=rtc_…`` with the server key) and hears the call's events as its
data channel does, feeding them to the session's ``realtime.recorder.ConversationLog``. The
media stays browser ⇄ OpenAI.

A sideband lives as long as its call: it ends when the call is hung up (``stop``, from our
hangup), when OpenAI closes it (the call ended), at OpenAI's 60-minute limit, or when the
call has been silent past ``REALTIME_SIDEBAND_IDLE_TIMEOUT``. A connection that drops while
the call lives is attached again, a bounded number of times with backoff; each attach and
drop is an entry of the timeline. Its end ends the session's row, with the reason and the
conversation's totals.

``realtime.sidebands`` keeps this process's sidebands, one per call; across processes a
call has one sideband, whose holder keeps the call's lease (``realtime.sideband_leases``).

What is Realtime's here is overridable, for GPT-Live's ``realtime.live_sideband``: how it
attaches (``_open``), the log it keeps (``log_class``), the tool calls it answers
(``tools_for``), where a taken-over record resumes (``_resume``), what an end upstream is
called (``_ended_upstream``), and how a hangup goes (``hang_up``; staff ending hangs up by
the row's ``api``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from websockets.exceptions import ConnectionClosed

from realtime import (
    agents,
    cache_ops,
    drain,
    ending,
    logcontext,
    metrics,
    record_writer,
    sideband_leases,
    sweep,
    tasks,
    upstream,
)
from realtime.conf import get_settings
from realtime.diagnostics import end_session, note_carrier, record
from realtime.models import Api
from realtime.recorder import ConversationLog, RecordKeeper
from realtime.tools import calls as tool_calls

logger = logging.getLogger(__name__)

REATTACH_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)  # seconds before each attach after a drop
STOP_TIMEOUT = 5.0  # seconds a stop waits for the sideband's record before giving up
# Closes that mean the link broke, not that OpenAI ended or refused the sideband.
DROPPED = frozenset({1001, 1006, 1011, 1012, 1013, 1014})
T = TypeVar("T")


@dataclass(frozen=True)
class WatchedCall:
    """A relayed WebRTC call, and the session row its record belongs to."""

    call_id: str  # a Live session's id for a Live call
    session_id: int
    model: str
    user_id: int | None = None  # who made the call: a server tool's context
    client_ip: str | None = None
    adopted: bool = False  # taken over from a process that lost it (its lease is ours)
    api: str = Api.REALTIME  # which API's sideband it takes (realtime.sidebands)


class Sideband:
    """One call's sideband: attach, hear, reattach after drops, end the record once."""

    transport = "webrtc"  # as live sessions are counted (realtime.metrics)
    api: ClassVar[str] = Api.REALTIME  # how staff ending hangs the call up (realtime.ending)
    log_class: ClassVar[type[RecordKeeper]] = ConversationLog
    tools_for = staticmethod(
        tool_calls.ServerToolCalls.for_session
    )  # the session's server tool calls

    def __init__(self, call: WatchedCall, on_end: Callable[[Sideband], None]) -> None:
        conf = get_settings()
        self.call = call
        self.conf = conf
        self.log: Any = self.log_class(
            call.session_id,
            call.model,
            record_writer.put if conf.record_conversations else _unrecorded,
            store_text=conf.store_transcripts,
            prices=conf.prices,
        )
        self.tools: tool_calls.ServerToolCalls | None = None  # once the session's are known
        self.socket: upstream.RelaySocket | None = None
        self.end_reason = ""
        self.task: asyncio.Task[None] | None = None
        self._on_end = on_end
        self.holder = sweep.current()  # the name its lease is held under
        # Left to another process (this one drains, or lost the lease): the row stays open.
        self.handed_over = False
        self._renewal: asyncio.Task[None] | None = None

    def _note(self, status: str, text: str = "") -> None:
        """An attach, a drop, a takeover: on the call's timeline, and counted."""
        self.log.note(status, text)
        metrics.sideband_event(status)

    def start(self) -> None:
        self.task = tasks.detached(self._run())

    async def stop(self, reason: str, *, hear_out: float = 0.0) -> None:
        """End the sideband with ``reason`` and wait until its record is written.

        ``hear_out``: first, for up to that many seconds, let the sideband hear the call to
        its end, as OpenAI closes it (a hung up Live session's last event has its usage).
        """
        if not self.end_reason:
            self.end_reason = reason
        task = self.task
        # Another loop's task (a loop that has ended) cannot be waited for from this one.
        if (
            task is None
            or task is asyncio.current_task()
            or task.get_loop() is not asyncio.get_running_loop()
        ):
            task = None
        if task is not None and hear_out > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(hear_out):
                    await asyncio.shield(task)
        if self.socket is not None:
            await self.socket.close()
        if task is not None:
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await asyncio.shield(task)
            except TimeoutError:
                logger.error("the sideband of call %s did not stop; cancelled", self.call.call_id)
                task.cancel()

    async def hang_up(self, reason: str, hang_up: Callable[[], Awaitable[T]]) -> T:
        """Hang the call up with ``hang_up``, the record's end being ``reason``: stopped
        first, so that the end is ours rather than the close the hangup brings."""
        await self.stop(reason)
        return await hang_up()

    async def drain(self, grace: float) -> None:
        async with asyncio.timeout(grace + drain.FINISH_ALLOWANCE):
            self.refuse_while_draining()
            await self.stop(self.end_reason)

    def refuse_while_draining(self) -> None:
        """The process is stopping: hand the call over where another process can take it
        (a shared cache holds the lease), else end its record."""
        if self.end_reason:
            return
        if cache_ops.shared():
            self.handed_over = True
            self.end_reason = "handed_over"
        else:
            self.end_reason = "server_shutting_down"

    async def _run(self) -> None:
        logcontext.bind(
            session_id=self.call.session_id,
            call_id=self.call.call_id,
            user_id=self.call.user_id,
            transport="webrtc",
        )
        if not await self._lease():
            self._on_end(self)  # another process's sideband watches the call
            return
        self._renewal = asyncio.get_running_loop().create_task(
            sideband_leases.keep(self.call.call_id, self.holder, self._lost_lease)
        )
        try:
            # A process killed mid-call cannot end the row: another process takes the call
            # over (realtime.sideband_leases), or the sweep ends it.
            await note_carrier(self.call.session_id, sweep.current())
            if self.call.adopted:
                await self._resume()
                self._note("taken over", f"by {self.holder}")
            await ending.process_channel.join(self.call.session_id, self.end_for_staff)
            # The tools of the session's agent as it started (the ek_ flow's, its mint's).
            self.tools = self.tools_for(
                await agents.server_tools_of_session(self.call.session_id),
                self._send,
                transport="webrtc",
                user_id=self.call.user_id,
                client_ip=self.call.client_ip,
                log=self.log,
            )
            if self.tools is not None:
                self.tools.session_id = self.call.session_id
            async with asyncio.timeout(sideband_leases.CALL_MAX_SECONDS):
                await self._attach_while_the_call_lives()
        except TimeoutError:
            self.end_reason = self.end_reason or "session_too_long"
        except Exception:
            logger.exception("the sideband of call %s failed", self.call.call_id)
            self.end_reason = self.end_reason or "internal_error"
        finally:
            if self._renewal is not None:
                self._renewal.cancel()
            if self.tools is not None:
                await self.tools.close()
            if self.socket is not None:
                with contextlib.suppress(Exception):
                    await self.socket.close()
            await self._finish()

    async def _resume(self) -> None:
        """Go on from the record the call's previous holder wrote."""
        totals, items = await sideband_leases.recorded_so_far(self.call.session_id)
        self.log.resume(totals, items)

    async def _open(self) -> upstream.RelaySocket:
        """Attach to the call (``wss://…/realtime?call_id=…``, the server key)."""
        return await upstream.open_socket(call_id=self.call.call_id)

    def _ended_upstream(self, close_reason: str) -> str:
        """The end reason of a call OpenAI ended, closing the sideband normally."""
        return close_reason or "call_ended"

    async def _lease(self) -> bool:
        """Take the call's lease, unless an adopter took it for us; whether it is ours."""
        if self.call.adopted:
            return True
        try:
            return await sideband_leases.take(self.call.call_id, self.holder)
        except Exception:
            # Better a second sideband than none: the cache (Redis) is down.
            logger.exception("could not take the lease of call %s; watching it", self.call.call_id)
            return True

    async def _lost_lease(self) -> None:
        """Another process watches the call now: leave it to that one."""
        self.handed_over = True
        self.end_reason = self.end_reason or "handed_over"
        if self.socket is not None:
            await self.socket.close()

    async def _attach_while_the_call_lives(self) -> None:
        drops = 0
        while not self.end_reason:
            try:
                self.socket = await self._open()
            except upstream.UpstreamError as error:
                if error.status == 404:  # the call is over (or never was, for OpenAI)
                    self._note("not attached", "the call had ended")
                    self.end_reason = self.end_reason or "call_ended"
                    return
                self._note("not attached", f"{error.error_code}: {error}"[:500])
                if not await self._wait_to_reattach(drops):
                    self.end_reason = self.end_reason or error.error_code
                    return
                drops += 1
                continue
            if self.end_reason:  # stopped while it attached
                return
            self._note("attached")
            dropped = await self._hear()
            if dropped is None:
                return  # ended: the call is over, or we ended it
            self._note("dropped", dropped)
            if not await self._wait_to_reattach(drops):
                self.end_reason = self.end_reason or "sideband_lost"
                return
            drops += 1

    async def _hear(self) -> str | None:
        """Record the call's events until the socket closes; return why, if it dropped
        while the call lives (None: it ended)."""
        socket = self.socket
        assert socket is not None
        idle = self.conf.sideband_idle_timeout
        try:
            while True:
                async with asyncio.timeout(idle):
                    message = await socket.recv()
                if isinstance(message, str):
                    self.log.server_frame(message)
                    if self.tools is not None:
                        self.tools.server_frame(message)
        except TimeoutError:
            self.end_reason = self.end_reason or "idle_timeout"
            await socket.close()
            return None
        except ConnectionClosed:
            pass
        code, reason = socket.close_code, socket.close_reason or ""
        if self.end_reason:
            return None
        if code == 1000:  # OpenAI closes the sideband as the call ends
            self.end_reason = self._ended_upstream(reason)
            return None
        if code is not None and code not in DROPPED:  # refused, after its error event
            self.end_reason = reason[:64] or "upstream_closed"
            return None
        return f"closed {code} {reason}".strip()

    async def _send(self, text: str) -> None:
        """Send an event of the server's own (a tool's output) into the call."""
        socket = self.socket
        if socket is not None:
            with contextlib.suppress(ConnectionClosed):  # heard as a drop, and reattached
                await socket.send(text)

    async def _wait_to_reattach(self, drops: int) -> bool:
        if drops >= len(REATTACH_DELAYS) or self.end_reason:
            return False
        await asyncio.sleep(REATTACH_DELAYS[drops])
        return not self.end_reason

    async def end_for_staff(self) -> None:
        """Staff ended the call from the admin (realtime.ending): hang up, the record's end
        being theirs rather than the close the hangup brings; the hangup's exchange is
        recorded once the sideband's record is written (a row at a time)."""
        exchange = await self.hang_up(
            ending.END_REASON,
            lambda: ending.hang_up_at_openai(self.call.call_id, self.call.session_id, api=self.api),
        )
        await record(exchange)

    async def _finish(self) -> None:
        try:
            await ending.process_channel.leave(self.call.session_id)
            if self.handed_over:
                # What was heard is written before the lease goes: the next holder's
                # record resumes from it.
                self._note("handed over", f"by {self.holder}")
                await record_writer.writer().flush()
                return
            # First: a Live log records then what was still being said, which is written.
            totals = self.log.end_fields()
            await record_writer.writer().flush()
            await end_session(
                self.call.session_id,
                keep_end=True,  # a hangup relayed by another process may have ended it
                end_reason=self.end_reason or "call_ended",
                **totals,
            )
        finally:
            with contextlib.suppress(Exception):  # it lapses anyway
                await sideband_leases.release(self.call.call_id, self.holder)
            self._on_end(self)


def _unrecorded(session_id: int, record: object) -> bool:
    return True  # REALTIME_RECORD_CONVERSATIONS is off: the sideband runs tools only
