"""WebSocket: the proxy consumer between a browser (or an official SDK) and OpenAI.

One ``RealtimeProxyConsumer`` per connection, its state one ``ProxySession``. ``connect``
asks ``realtime.proxy.admit`` who may connect, opens the upstream socket with the server's
key and sends the server's session policy; ``receive`` judges each client frame
(``realtime.proxy``) and forwards it; a relay task forwards OpenAI's frames back and a clock
task enforces the session's time limits; ``end`` is the one way a session ends, whoever
ends it; ``disconnect`` stops everything and writes the record.

Hot path: audio arrives at about 50 frames per second per session. Frames go through as
text, unparsed by anyone but orjson, and cost no thread hop (see ``dispatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from websockets.exceptions import ConnectionClosed

from realtime import proxy, upstream
from realtime.conf import get_settings
from realtime.flow import client_flow
from realtime.proxy_session import ProxySession


class RealtimeProxyConsumer(AsyncWebsocketConsumer):
    """Browser or SDK ⇄ this server ⇄ OpenAI's realtime WebSocket.

    ``browser_path``: the page's own route, where a session cookie may stand in for a proxy
    token; on the SDK route (``/v1/realtime``) a token is required.
    """

    session: ProxySession
    upstream: upstream.RelaySocket | None = None

    def __init__(self, *args: Any, browser_path: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.browser_path = browser_path
        self.tasks: list[asyncio.Task[None]] = []

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch runs aclose_old_connections (a thread hop) before every frame.
        # Every ORM call of this consumer (realtime.diagnostics' records, proxy.admit's user
        # check) goes through database_sync_to_async, which closes stale connections around
        # the call itself, so a frame costs no thread hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.flow = client_flow(self.scope)
        self.session = session = ProxySession.begin(self.scope, get_settings(), self.loop.time())
        # The official SDKs offer "realtime" beside the key subprotocol and expect it back.
        subprotocol = "realtime" if "realtime" in self.scope.get("subprotocols", []) else None
        try:
            caller = await proxy.admit(self.scope, session.conf, browser_path=self.browser_path)
        except proxy.ConnectionRefused as refused:
            # Refused like OpenAI refuses: accept, one error event, then a close.
            session.note_refusal(refused)
            await session.open_record()
            await self.accept(subprotocol)
            await self.end(proxy.ending(refused.code, refused.message))
            return
        session.note_caller(caller)
        record_opened = asyncio.ensure_future(session.open_record())
        upstream_started = time.perf_counter()
        try:
            self.upstream = await upstream.open_socket(session.model)
        except upstream.UpstreamError as error:
            await record_opened
            session.note_upstream_failure(error, upstream_started)
            await self.accept(subprotocol)
            await self.end(proxy.upstream_failure_ending(error))
            return
        session.exchange.upstream_ms = (time.perf_counter() - upstream_started) * 1000
        self.upstream.on_backpressure = self.upstream_backpressure
        await record_opened
        await self.accept(subprotocol)
        # OpenAI may already have refused (an error event, then a close): the relay forwards
        # both, so a failed send here needs no answer of its own.
        with contextlib.suppress(ConnectionClosed):
            await self.upstream.send(proxy.policy_update(session.conf))
        self.tasks = [
            asyncio.create_task(self.relay_upstream()),
            asyncio.create_task(self.watch_clock()),
        ]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.flow.frame_taken()  # even when ignored below: a taken frame frees the backlog
        session = self.session
        if self.upstream is None or session.closing:
            return
        now = session.last_client_frame = self.loop.time()
        size = proxy.frame_size(text_data) if text_data is not None else len(bytes_data or b"")
        session.frames_from_client += 1
        session.bytes_from_client += size
        conf = session.conf
        if size > conf.proxy_max_frame_bytes:
            await self.end(
                proxy.ending(
                    "frame_too_large",
                    f"The message is {size} bytes; this server accepts at most "
                    f"{conf.proxy_max_frame_bytes}.",
                )
            )
            return
        if not session.rate.take(now):
            await self.end(
                proxy.ending(
                    "message_rate_exceeded",
                    f"More than {conf.proxy_max_messages_per_second} messages per second.",
                )
            )
            return
        if text_data is None:
            await self.send_event(
                proxy.socket_error_event(
                    "invalid_event",
                    "Expected a text WebSocket message; binary frames are not supported.",
                )
            )
            return
        try:
            event = proxy.read_client_event(text_data, conf, session.model)
        except proxy.EventRefused as refused:
            await self.send_event(
                proxy.socket_error_event(
                    refused.code,
                    refused.message,
                    client_event_id=refused.client_event_id,
                    param=refused.param,
                )
            )
            return
        with contextlib.suppress(ConnectionClosed):  # the relay reports the close
            await self.upstream.send(event.forward)

    async def disconnect(self, code: int) -> None:
        """The client is gone: stop every task, close OpenAI's socket, write the record."""
        session = self.session
        if session.client_close[0] is None:
            session.client_close = (code, "")
        if session.ended:
            return
        session.ended = session.closing = True
        current = asyncio.current_task()
        others = [task for task in self.tasks if task is not current]
        for task in others:
            task.cancel()
        for task in others:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.close_upstream()
        self.flow.release()
        await session.finish()

    async def end(self, ending: proxy.Ending) -> None:
        """End the session, whoever ends it: send the ending's error event (if any), close
        the client with its code and reason, and let go of OpenAI at once."""
        if not self.session.note_ending(ending):
            return
        if ending.event is not None:
            await self.send_event(ending.event)
        reason = ending.reason.encode()[:123].decode(errors="ignore")  # a close frame's limit
        if not self.flow.close(ending.close_code, reason):
            await self.close(ending.close_code, reason)
        await self.close_upstream()

    # --- the session's tasks --------------------------------------------------------------

    async def relay_upstream(self) -> None:
        """Relay OpenAI's frames to the client, never faster than the client reads; end the
        session when OpenAI closes."""
        session, socket, flow = self.session, self.upstream, self.flow
        assert socket is not None
        first = True
        try:
            async for message in socket:
                if not flow.client_reading and not await self.wait_for_client():
                    return
                if isinstance(message, str):
                    await self.send(text_data=message)
                    session.bytes_to_client += proxy.frame_size(message)
                    session.usage.add_from(message)
                else:
                    await self.send(bytes_data=message)
                    session.bytes_to_client += len(message)
                session.frames_to_client += 1
                if first:
                    first = False
                    await session.record_handshake(message)
        except ConnectionClosed:
            pass
        session.upstream_close = (socket.close_code, socket.close_reason or "")
        if first:
            await session.record_lost_upstream()
        await self.end(proxy.upstream_closed_ending(*session.upstream_close))

    async def wait_for_client(self) -> bool:
        """Wait while the client's socket is full; end the session if it stays full."""
        timeout = self.session.conf.proxy_send_timeout
        try:
            async with asyncio.timeout(timeout):
                await self.flow.wait_client_reading()
        except TimeoutError:
            message = f"Nothing was read for {timeout:g} seconds."
            await self.end(proxy.ending("client_not_reading", message, tell_client=False))
            return False
        return True

    async def watch_clock(self) -> None:
        """End the session after too long a silence from the client, or too long a session."""
        session = self.session
        while not session.closing:
            now = self.loop.time()
            if (overdue := session.overdue(now)) is not None:
                await self.end(overdue)
                return
            await asyncio.sleep(session.next_deadline() - now)

    def upstream_backpressure(self, paused: bool) -> None:
        # OpenAI is not taking data: stop reading the client (its TCP window closes) until
        # it does, instead of queueing its audio here.
        if paused:
            self.flow.pause_reading()
        else:
            self.flow.resume_reading()

    async def send_event(self, event: dict[str, Any]) -> None:
        text = orjson.dumps(event).decode()
        await self.send(text_data=text)
        self.session.frames_to_client += 1
        self.session.bytes_to_client += len(text)

    async def close_upstream(self) -> None:
        if self.upstream is not None:
            # close_timeout is 1 s: the upstream socket is gone within a second either way.
            await self.upstream.close()
            if self.session.upstream_close[0] is None:
                self.session.upstream_close = (
                    self.upstream.close_code,
                    self.upstream.close_reason or "",
                )
