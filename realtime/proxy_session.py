"""The state of one proxied WebSocket connection, and the records it leaves.

``realtime.consumers`` moves the frames and keeps its counters, close codes, clock and
open-session slot here; this object turns them into the connection's ``RealtimeSession``
and its ``UpstreamExchange`` (``realtime.diagnostics``): at connect, at OpenAI's first frame
and at the end, never per frame. What was said goes to the session's
``realtime.recorder.ConversationLog``, which buffers its records for
``realtime.record_writer``; the end flushes them before it writes the totals. The row names
the process that carries the session (``realtime.sweep``), so that a row a killed process
left open can be ended later; ``finish`` gives the open-session slot back and ends the row,
once, whatever came before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from realtime import ratelimit, record_writer, sweep, upstream
from realtime.agents import Profile
from realtime.conf import RealtimeSettings
from realtime.diagnostics import Exchange, end_session, open_session, record
from realtime.live_recorder import LiveConversationLog
from realtime.models import Api, ExchangeKind, Outcome, Source, Transport
from realtime.proxy import (
    Caller,
    ConnectionRefused,
    Ending,
    MessageRate,
    client_address,
    ending,
    frame_too_large,
    query_value,
)
from realtime.recorder import ConversationLog
from realtime.tools import calls as tool_calls
from realtime.tools.calls import ServerToolCalls


@dataclass(slots=True, eq=False)
class ProxySession:
    """One connection: what it is, what it has relayed so far, and how it ended.

    ``opened_at`` and ``last_client_frame`` are the event loop's clock; ``started`` is the
    ``time.perf_counter()`` the records' durations count from.

    The class attributes are what differs for GPT-Live (``realtime.live_consumer``): the
    API its rows name, its conversation log and its server tools' calls.
    """

    api: ClassVar[str] = Api.REALTIME
    log_class: ClassVar[type[ConversationLog | LiveConversationLog]] = ConversationLog
    tools_for: ClassVar[Callable[..., Any]] = staticmethod(tool_calls.ServerToolCalls.for_session)

    conf: RealtimeSettings
    model: str
    exchange: Exchange
    opened_at: float
    last_client_frame: float
    rate: MessageRate
    log: ConversationLog | LiveConversationLog | None  # None: conversations are not recorded
    profile: Profile | None = None  # the session's configuration, once the caller is let in
    tools: ServerToolCalls | None = None  # None: the server runs no tools
    started: float = field(default_factory=time.perf_counter)
    session_id: int | None = None
    slot: str | None = None  # the rate-limit client whose open-session slot this holds
    frames_from_client: int = 0
    bytes_from_client: int = 0
    frames_to_client: int = 0
    bytes_to_client: int = 0
    client_close: tuple[int | None, str] = (None, "")
    upstream_close: tuple[int | None, str] = (None, "")
    error_code: str = ""  # why the proxy ended the session, if it did
    closing: bool = False  # an ending is under way: nothing more is relayed
    record_opened: asyncio.Future[None] | None = None
    exchange_record: asyncio.Future[object] | None = None

    @classmethod
    def begin(cls, scope: dict[str, Any], conf: RealtimeSettings, now: float) -> ProxySession:
        """Return the state of a connection that is knocking, at loop time ``now``."""
        headers = dict(scope.get("headers", []))
        model = cls.choose_model(conf, scope, None)
        exchange = Exchange(
            api=cls.api,
            kind=ExchangeKind.WEBSOCKET,
            source=Source.WEBSOCKET_PROXY,
            transport=Transport.WEBSOCKET,
            model=model,
            client_ip=client_address(scope),
            user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
        )
        rate = MessageRate(conf.proxy_max_messages_per_second, now)
        log = None
        if conf.record_conversations:
            log = cls.log_class(
                None,
                model,
                record_writer.put,
                store_text=conf.store_transcripts,
                prices=conf.prices,
            )
        return cls(conf, model, exchange, opened_at=now, last_client_frame=now, rate=rate, log=log)

    def note_caller(self, caller: Caller) -> None:
        self.exchange.user_id = caller.user_id
        self.exchange.secret_fingerprint = caller.secret_fingerprint
        self.slot = caller.slot

    def start_tools(self, send: Callable[[str], Awaitable[None]]) -> None:
        """The server tools of the session's profile, answered to OpenAI through ``send``."""
        self.tools = self.tools_for(
            self.profile.server_tools(),
            send,
            transport="websocket",
            user_id=self.exchange.user_id,
            client_ip=self.exchange.client_ip,
            log=self.log,
        )

    def note_profile(self, profile: Profile, scope: dict[str, Any]) -> None:
        """Configure the session as ``profile`` says (an agent's, or the settings'); the
        client's ``?model=`` still chooses among the allowed models."""
        self.profile = profile
        self.model = self.choose_model(self.conf, scope, profile)
        self.exchange.model = self.model
        if self.log is not None:
            self.log.model = self.model

    @classmethod
    def choose_model(
        cls, conf: RealtimeSettings, scope: dict[str, Any], profile: Profile | None
    ) -> str:
        """The model of a session: the client's ``?model=`` if allowed, else the profile's
        (the settings' until the profile is known)."""
        return conf.model_for(query_value(scope, "model"), profile.model if profile else None)

    def note_refusal(self, refused: ConnectionRefused) -> None:
        self.note_caller(refused.caller)
        self.exchange.outcome = Outcome.REJECTED
        self.exchange.error_code = refused.code

    def note_upstream_failure(self, error: upstream.UpstreamError, started: float) -> None:
        self.exchange.upstream_ms = (time.perf_counter() - started) * 1000
        self.exchange.note_failure(error)

    def note_failure(self) -> None:
        """The server failed before OpenAI's socket was open: its exchange never happened."""
        if self.exchange_record is None:
            self.exchange.outcome = Outcome.REJECTED
            self.exchange.error_code = "internal_error"

    def note_ending(self, how: Ending) -> bool:
        """Note how the session ends; False if it is ending already."""
        if self.closing:
            return False
        self.closing = True
        self.error_code = how.error_code
        self.client_close = (how.close_code, how.reason)
        return True

    def note_client_frame(self, size: int, now: float) -> Ending | None:
        """Count a client's frame of ``size`` bytes, taken at loop time ``now``; the ending
        it calls for (too large, too many a second), if any."""
        self.last_client_frame = now
        self.frames_from_client += 1
        self.bytes_from_client += size
        conf = self.conf
        if size > conf.proxy_max_frame_bytes:
            return frame_too_large(conf.proxy_max_frame_bytes, size)
        if not self.rate.take(now):
            return ending(
                "message_rate_exceeded",
                f"More than {conf.proxy_max_messages_per_second} messages per second.",
            )
        return None

    def overdue(self, now: float) -> Ending | None:
        """Return the ending due at ``now``: the session is too long, or the client has been
        silent too long."""
        if now >= self.opened_at + self.conf.proxy_max_session_seconds:
            return ending(
                "session_too_long",
                f"Sessions last at most {self.conf.proxy_max_session_seconds:g} seconds.",
            )
        if now >= self.last_client_frame + self.conf.proxy_idle_timeout:
            return ending(
                "idle_timeout",
                f"Nothing came from the client for {self.conf.proxy_idle_timeout:g} seconds.",
            )
        return None

    def next_deadline(self) -> float:
        return min(
            self.opened_at + self.conf.proxy_max_session_seconds,
            self.last_client_frame + self.conf.proxy_idle_timeout,
        )

    # --- records ------------------------------------------------------------------------

    def open_record(self) -> asyncio.Future[None]:
        """Start the session's row, once: later calls wait for the same start. A caller
        cancelled while it waits does not cancel the start (there is one row either way)."""
        if self.record_opened is None:
            self.record_opened = asyncio.ensure_future(self._open_record())
        return asyncio.shield(self.record_opened)

    async def _open_record(self) -> None:
        self.session_id = await open_session(
            api=self.api,
            source=Source.WEBSOCKET_PROXY,
            transport=Transport.WEBSOCKET,
            user_id=self.exchange.user_id,
            client_ip=self.exchange.client_ip,
            user_agent=self.exchange.user_agent,
            model=self.model,
            secret_fingerprint=self.exchange.secret_fingerprint,
            server_process=sweep.current(),
            agent_id=self.profile.agent_id if self.profile else None,
            agent_revision_id=self.profile.revision_id if self.profile else None,
        )
        if self.log is not None:
            self.log.session_id = self.session_id
        if self.tools is not None:
            self.tools.session_id = self.session_id

    async def record_handshake(self, first_message: str | bytes) -> None:
        """Record the upstream handshake from OpenAI's first frame, which says whether it
        took the session: ``session.created``, or an ``error`` event before it closes (a
        refused key or model)."""
        self.exchange.upstream_status = 101
        first_event = _json_object(first_message)
        if first_event.get("type") == "error":
            error = first_event.get("error") or {}
            self.exchange.outcome = Outcome.UPSTREAM_ERROR
            self.exchange.error_code = str(error.get("code") or error.get("type") or "error")
            self.exchange.upstream_error = first_message
        await self.record_exchange()

    async def record_lost_upstream(self) -> None:
        """Record the upstream handshake of a socket that closed before its first frame."""
        code, reason = self.upstream_close
        self.exchange.outcome = Outcome.UNREACHABLE
        self.exchange.error_code = "upstream_connection_lost"
        self.exchange.upstream_error = f"closed {code} {reason}".strip()
        self.exchange.upstream_status = 101
        await self.record_exchange()

    def record_exchange(self) -> asyncio.Future[object]:
        """Record the exchange, once. Shielded like the session's row: a caller cancelled
        mid-write (the relay, when the client leaves at once) does not lose it, and the
        session's end waits for it instead of writing it again."""
        if self.exchange_record is None:
            self.exchange.session_id = self.session_id
            self.exchange.total_ms = (time.perf_counter() - self.started) * 1000
            self.exchange_record = asyncio.ensure_future(record(self.exchange))
        return asyncio.shield(self.exchange_record)

    async def finish(self) -> None:
        """Give back the open-session slot and write the session's end and totals; each
        step is done even if one before it fails."""
        self.closing = True
        slot, self.slot = self.slot, None
        try:
            if slot is not None:
                await ratelimit.release_slot(slot)
        finally:
            await self._write_end()

    async def _write_end(self) -> None:
        # A session that failed before its row was started still leaves one.
        await self.open_record()
        await self.record_exchange()
        await record_writer.writer().flush()
        await end_session(
            self.session_id,
            error_code=self.error_code,
            end_reason=self.end_reason(),
            model=self.model,  # a Live client's session.start may have chosen another
            client_close_code=self.client_close[0],
            client_close_reason=self.client_close[1],
            upstream_close_code=self.upstream_close[0],
            upstream_close_reason=self.upstream_close[1],
            **(self.log.end_fields() if self.log is not None else {}),
            frames_from_client=self.frames_from_client,
            bytes_from_client=self.bytes_from_client,
            frames_to_client=self.frames_to_client,
            bytes_to_client=self.bytes_to_client,
        )

    def end_reason(self) -> str:
        """Why the session ended: our error code, else who closed it."""
        if self.error_code:
            return self.error_code
        if self.upstream_close[0] is not None and self.client_close[0] is None:
            return "upstream_closed"
        return "client_closed"


def _json_object(message: str | bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
