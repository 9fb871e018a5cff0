"""WebSocket: the server-side proxy between a browser (or an official SDK) and OpenAI.

One ``RealtimeProxyConsumer`` per connection. ``connect`` checks who is asking, opens the
upstream socket with the server's key and sends the server's session policy; ``receive``
judges each client frame (``realtime.proxy``) and forwards it; a pump task forwards
OpenAI's frames back; ``disconnect`` closes the upstream socket and records the session.

Hot path: audio arrives at about 50 frames per second per session. Frames go through as
text, unparsed by anyone but orjson; nothing touches the database after ``connect`` until
the session ends (so Channels' per-frame connection cleanup is skipped, see ``dispatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import parse_qs

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model
from websockets.exceptions import ConnectionClosed

from realtime import proxy, ratelimit, tokens, upstream
from realtime.conf import get_settings
from realtime.diagnostics import Exchange, end_session, open_session, record
from realtime.errors import SOCKET_PROBLEMS, socket_error_event, socket_upstream_failure
from realtime.flow import client_flow
from realtime.keys import fingerprint
from realtime.models import ExchangeKind, Outcome, Source, Transport

logger = logging.getLogger(__name__)


def relayable_close_code(code: int) -> bool:
    """Whether the client may be closed with the code OpenAI closed with: daphne (Autobahn)
    lets an application send only 1000 and 3000-4999, which is what OpenAI sends."""
    return code == 1000 or 3000 <= code <= 4999


class RealtimeProxyConsumer(AsyncWebsocketConsumer):
    """Browser or SDK ⇄ this server ⇄ OpenAI's realtime WebSocket.

    ``browser_path``: the page's own route, where a session cookie may stand in for a proxy
    token; on the SDK route (``/v1/realtime``) a token is required.
    """

    def __init__(self, *args: Any, browser_path: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.browser_path = browser_path

    # --- the protocol's moments ---------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch runs aclose_old_connections (a thread hop) before every frame.
        # This consumer touches the ORM only through database_sync_to_async, which cleans
        # up connections itself, so a frame costs no thread hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.conf = get_settings()
        self.flow = client_flow(self.scope)
        self.loop = asyncio.get_running_loop()
        self.started = time.perf_counter()
        self.opened_at = self.last_client_frame = self.loop.time()
        self.upstream: upstream.RelaySocket | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.slot: str | None = None
        self.closing = False
        self.ended = False
        self.stats = {
            "frames_from_client": 0,
            "bytes_from_client": 0,
            "frames_to_client": 0,
            "bytes_to_client": 0,
        }
        self.usage = proxy.Usage()
        self.client_close: tuple[int | None, str] = (None, "")
        self.upstream_close: tuple[int | None, str] = (None, "")
        self.error_code = ""
        self.rate = proxy.MessageRate(self.conf.proxy_max_messages_per_second, self.opened_at)
        self.headers = dict(self.scope.get("headers", []))
        self.model = self.conf.model_for(_query_value(self.scope, "model"))
        self.exchange = Exchange(
            kind=ExchangeKind.WEBSOCKET,
            source=Source.WEBSOCKET_PROXY,
            transport=Transport.WEBSOCKET,
            model=self.model,
            client_ip=(self.scope.get("client") or [None])[0],
            user_agent=self.headers.get(b"user-agent", b"").decode("latin-1"),
        )
        self.session_id: int | None = None
        self.exchange_recorded = False

        if refusal := await self.check_client():
            await self.refuse(refusal)
            return
        session_opened = asyncio.ensure_future(self.open_session())
        upstream_started = time.perf_counter()
        try:
            self.upstream = await upstream.open_socket(self.model)
        except upstream.UpstreamError as error:
            self.session_id = await session_opened
            await self.fail_upstream(error, upstream_started)
            return
        self.exchange.upstream_ms = (time.perf_counter() - upstream_started) * 1000
        self.upstream.on_backpressure = self.upstream_backpressure
        self.session_id = await session_opened
        await self.accept(self.chosen_subprotocol())
        # OpenAI may already have refused (an error event, then a close): the pump forwards
        # both, so a failed send here needs no answer of its own.
        with contextlib.suppress(ConnectionClosed):
            await self.upstream.send(proxy.policy_update(self.conf))
        self.tasks = [
            asyncio.create_task(self.pump_upstream()),
            asyncio.create_task(self.watch_clock()),
        ]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.flow.frame_taken()  # even when ignored below: a taken frame frees the backlog
        if self.upstream is None or self.closing:
            return
        now = self.last_client_frame = self.loop.time()
        size = proxy.frame_size(text_data) if text_data is not None else len(bytes_data or b"")
        self.stats["frames_from_client"] += 1
        self.stats["bytes_from_client"] += size
        if size > self.conf.proxy_max_frame_bytes:
            await self.end(
                "frame_too_large",
                f"The message is {size} bytes; this server accepts at most "
                f"{self.conf.proxy_max_frame_bytes}.",
            )
            return
        if not self.rate.take(now):
            await self.end(
                "message_rate_exceeded",
                f"More than {self.conf.proxy_max_messages_per_second} messages per second.",
            )
            return
        if text_data is None:
            await self.send_event(
                socket_error_event(
                    "invalid_event",
                    "Expected a text WebSocket message; binary frames are not supported.",
                )
            )
            return
        try:
            event = proxy.read_client_event(text_data, self.conf, self.model)
        except proxy.EventRefused as refused:
            await self.send_event(
                socket_error_event(
                    refused.code,
                    refused.message,
                    client_event_id=refused.client_event_id,
                    param=refused.param,
                )
            )
            return
        with contextlib.suppress(ConnectionClosed):  # the pump reports the close
            await self.upstream.send(event.forward)

    async def disconnect(self, code: int) -> None:
        if self.client_close[0] is None:
            self.client_close = (code, "")
        await self.finish()

    # --- connect: who is asking ---------------------------------------------------------

    async def check_client(self) -> tuple[str, str | None] | None:
        """The refusal (code, message) for this connection, or None to go on."""
        origin = self.headers.get(b"origin", b"").decode("latin-1")
        if origin and not proxy.origin_allowed(origin):
            return ("origin_not_allowed", f"Origin {origin[:100]} is not in ALLOWED_HOSTS.")
        credential = proxy.presented_credential(self.headers, self.scope.get("subprotocols", []))
        if credential is not None and credential.is_openai_key:
            return ("openai_key_refused", None)
        user_id: int | None = None
        if credential is not None:
            self.exchange.secret_fingerprint = fingerprint(credential.value)
            try:
                token = tokens.verify(credential.value)
            except tokens.InvalidProxyToken as invalid:
                return (invalid.code, str(invalid))
            if token.user_id is not None and not await _user_is_active(token.user_id):
                return ("invalid_proxy_token", "The proxy token's user cannot sign in.")
            user_id = token.user_id
        elif self.browser_path and origin:
            user = self.scope.get("user")
            if user is not None and user.is_authenticated:
                user_id = user.pk
        else:
            return ("missing_credentials", None)
        self.exchange.user_id = user_id
        if self.conf.require_login and user_id is None:
            return ("login_required", None)
        if not self.conf.openai_api_key:
            return ("server_not_configured", None)
        client = f"user:{user_id}" if user_id else f"ip:{self.exchange.client_ip or 'unknown'}"
        verdict = await ratelimit.hit(
            client, limit=self.conf.rate_limit, window=self.conf.rate_limit_window
        )
        if not verdict.allowed:
            return ("rate_limited", f"Too many new sessions; retry in {verdict.retry_after} s.")
        if not await ratelimit.take_slot(
            client,
            limit=self.conf.proxy_max_sessions_per_user,
            lifetime=self.conf.proxy_max_session_seconds,
        ):
            return (
                "too_many_sessions",
                f"At most {self.conf.proxy_max_sessions_per_user} open sessions per user.",
            )
        self.slot = client
        return None

    def chosen_subprotocol(self) -> str | None:
        # The official SDKs offer "realtime" beside the key subprotocol and expect it back.
        return "realtime" if "realtime" in self.scope.get("subprotocols", []) else None

    async def refuse(self, refusal: tuple[str, str | None]) -> None:
        """Refuse like OpenAI does: accept, one ``error`` event, then close with a reason."""
        code, message = refusal
        self.exchange.outcome = Outcome.REJECTED
        self.exchange.error_code = code
        self.session_id = await self.open_session()
        await self.accept(self.chosen_subprotocol())
        await self.end(code, message)

    async def fail_upstream(self, error: upstream.UpstreamError, started: float) -> None:
        failure = socket_upstream_failure(error)
        self.exchange.upstream_ms = (time.perf_counter() - started) * 1000
        self.exchange.note_failure(error, failure.code)
        await self.accept(self.chosen_subprotocol())
        await self.close_client(failure.close_code, failure.reason, failure.event, failure.code)

    # --- the session ----------------------------------------------------------------------

    async def pump_upstream(self) -> None:
        """OpenAI → client, frame by frame, never faster than the client reads."""
        assert self.upstream is not None
        first = True
        try:
            async for message in self.upstream:
                if not self.flow.client_reading and not await self.wait_for_client():
                    return
                if isinstance(message, str):
                    await self.send(text_data=message)
                    self.stats["bytes_to_client"] += proxy.frame_size(message)
                    self.usage.add_from(message)
                else:
                    await self.send(bytes_data=message)
                    self.stats["bytes_to_client"] += len(message)
                self.stats["frames_to_client"] += 1
                if first:
                    first = False
                    await self.record_handshake(message)
        except ConnectionClosed:
            pass
        await self.upstream_closed(first)

    async def wait_for_client(self) -> bool:
        """Wait while the client's socket is full; end the session if it stays full."""
        try:
            async with asyncio.timeout(self.conf.proxy_send_timeout):
                await self.flow.wait_client_reading()
        except TimeoutError:
            await self.end(
                "client_not_reading",
                f"Nothing was read for {self.conf.proxy_send_timeout:g} seconds.",
                tell_client=False,
            )
            return False
        return True

    def upstream_backpressure(self, paused: bool) -> None:
        # OpenAI is not taking data: stop reading the client (its TCP window closes) until
        # it does, instead of queueing its audio here.
        if paused:
            self.flow.pause_reading()
        else:
            self.flow.resume_reading()

    async def upstream_closed(self, before_first_frame: bool) -> None:
        assert self.upstream is not None
        code, reason = self.upstream.close_code, self.upstream.close_reason or ""
        self.upstream_close = (code, reason)
        if before_first_frame:
            self.exchange.outcome = Outcome.UNREACHABLE
            self.exchange.error_code = "upstream_connection_lost"
            self.exchange.upstream_error = f"closed {code} {reason}".strip()
            self.exchange.upstream_status = 101
            await self.record_exchange()
        if self.closing:
            return
        if code is not None and relayable_close_code(code):
            # OpenAI ended the session (after its own error event, already forwarded):
            # close the client with the same code and reason.
            await self.close_client(code, reason)
            return
        # No close frame (the link broke) or a code a server may not relay: tell the client
        # what happened rather than closing silently.
        detail = f" ({code} {reason})".rstrip() if code is not None else ""
        await self.end("upstream_connection_lost", f"The connection to OpenAI broke{detail}.")

    async def watch_clock(self) -> None:
        """End the session after too long a silence from the client, or too long a session."""
        while not self.closing:
            session_deadline = self.opened_at + self.conf.proxy_max_session_seconds
            idle_deadline = self.last_client_frame + self.conf.proxy_idle_timeout
            now = self.loop.time()
            if now >= session_deadline:
                await self.end(
                    "session_too_long",
                    f"Sessions last at most {self.conf.proxy_max_session_seconds:g} seconds.",
                )
                return
            if now >= idle_deadline:
                await self.end(
                    "idle_timeout",
                    f"Nothing came from the client for {self.conf.proxy_idle_timeout:g} seconds.",
                )
                return
            await asyncio.sleep(min(session_deadline, idle_deadline) - now)

    # --- ending -----------------------------------------------------------------------------

    async def end(self, code: str, message: str | None = None, *, tell_client: bool = True) -> None:
        """End the session for one of our own reasons (a limit, a refusal, a lost upstream)."""
        found = SOCKET_PROBLEMS[code]
        assert found.close_code is not None
        event = socket_error_event(code, message) if tell_client else None
        await self.close_client(found.close_code, found.reason, event, code)

    async def close_client(
        self,
        close_code: int,
        reason: str,
        event: dict[str, Any] | None = None,
        error_code: str = "",
    ) -> None:
        """Send the error event (if any), close the client, and let go of OpenAI at once."""
        if self.closing:
            return
        self.closing = True
        self.error_code = error_code
        self.client_close = (close_code, reason)
        if event is not None:
            await self.send_event(event)
        reason = reason.encode()[:123].decode(errors="ignore")  # a close frame's limit
        if not self.flow.close(close_code, reason):
            await self.close(close_code, reason)
        await self.close_upstream()

    async def send_event(self, event: dict[str, Any]) -> None:
        text = orjson.dumps(event).decode()
        await self.send(text_data=text)
        self.stats["frames_to_client"] += 1
        self.stats["bytes_to_client"] += len(text)

    async def close_upstream(self) -> None:
        if self.upstream is not None:
            # close_timeout is 1 s: the upstream socket is gone within a second either way.
            await self.upstream.close()
            if self.upstream_close[0] is None:
                self.upstream_close = (self.upstream.close_code, self.upstream.close_reason or "")

    async def finish(self) -> None:
        """The client is gone: stop every task, close OpenAI's socket, write the record."""
        if self.ended:
            return
        self.ended = True
        self.closing = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        for task in self.tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.close_upstream()
        self.flow.release()
        if self.slot is not None:
            await ratelimit.release_slot(self.slot)
        if not self.exchange_recorded:
            await self.record_exchange()
        await end_session(
            self.session_id,
            error_code=self.error_code,
            client_close_code=self.client_close[0],
            client_close_reason=self.client_close[1],
            upstream_close_code=self.upstream_close[0],
            upstream_close_reason=self.upstream_close[1],
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            total_tokens=self.usage.total_tokens,
            **self.stats,
        )

    # --- records ----------------------------------------------------------------------------

    async def open_session(self) -> int | None:
        return await open_session(
            source=Source.WEBSOCKET_PROXY,
            transport=Transport.WEBSOCKET,
            user_id=self.exchange.user_id,
            client_ip=self.exchange.client_ip,
            user_agent=self.exchange.user_agent,
            model=self.model,
            secret_fingerprint=self.exchange.secret_fingerprint,
        )

    async def record_handshake(self, first_message: str | bytes) -> None:
        """OpenAI's first frame says whether it took the session: ``session.created``, or
        an ``error`` event before it closes (a refused key or model)."""
        self.exchange.upstream_status = 101
        first_event = _json_object(first_message)
        if first_event.get("type") == "error":
            error = first_event.get("error") or {}
            self.exchange.outcome = Outcome.UPSTREAM_ERROR
            self.exchange.error_code = str(error.get("code") or error.get("type") or "error")
            self.exchange.upstream_error = first_message
        await self.record_exchange()

    async def record_exchange(self) -> None:
        self.exchange_recorded = True
        self.exchange.session_id = self.session_id
        self.exchange.total_ms = (time.perf_counter() - self.started) * 1000
        await record(self.exchange)


def _json_object(message: str | bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _query_value(scope: dict[str, Any], name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


@database_sync_to_async
def _user_is_active(user_id: int) -> bool:
    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()
