"""WebSocket: the proxy consumer between a browser (or an official SDK) and OpenAI.

One ``RealtimeProxyConsumer`` per connection, its state one ``ProxySession``. ``connect``
asks ``realtime.proxy.admit`` who may connect, opens the upstream socket with the server's
key and sends the server's session policy; ``receive`` judges each client frame
(``realtime.policy``) and forwards our encoding of it; a relay task forwards OpenAI's
frames back and a clock task enforces the session's time limits.

GPT-Live's consumer (``realtime.live_consumer``) overrides a few hooks: who is admitted,
how OpenAI's socket opens, what is sent first and how a client frame is judged.

``end`` is the one way a session ends, whoever ends it: a limit, OpenAI, the WebSocket
layer refusing a frame (``realtime.flow``), a failure, or the server stopping (``drain``,
called by ``realtime.drain``). ``wind_up`` is the one way it finishes: every task stopped,
OpenAI's socket closed, the open-session slot given back and the row ended, once.
``__call__`` winds up however the connection's life ends: a client that leaves, an
exception anywhere, or the server cancelling the application.

Hot path: audio arrives at about 50 frames per second per session. Frames go through as
text, parsed by orjson alone, and cost no task and no thread hop
(``realtime.relay_consumer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

import orjson
from websockets.exceptions import ConnectionClosed

from realtime import drain, ending, logcontext, policy, proxy, upstream
from realtime.conf import get_settings
from realtime.flow import ClientFlow, client_flow
from realtime.proxy_session import ProxySession
from realtime.relay_consumer import RelayConsumer

logger = logging.getLogger(__name__)
BINARY_REFUSED = "Expected a text WebSocket message; binary frames are not supported."


class RealtimeProxyConsumer(RelayConsumer):
    """Browser or SDK ⇄ this server ⇄ OpenAI's realtime WebSocket.

    ``browser_path``: the page's own route, where a session cookie may stand in for a proxy
    token; on the SDK route (``/v1/realtime``) a token is required.
    """

    session: ProxySession | None = None
    upstream: upstream.RelaySocket | None = None
    flow: ClientFlow
    transport = "websocket"  # as live sessions are counted (realtime.metrics)
    # The API's own parts (realtime.live_consumer overrides them for GPT-Live): the state
    # and records of a connection, and the client events its server tools and log hear.
    session_class: type[ProxySession] = ProxySession
    answer_events = frozenset({"conversation.item.create"})

    def __init__(self, *args: Any, browser_path: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.browser_path = browser_path
        self.tasks: list[asyncio.Task[None]] = []
        self.accepted = False
        self.subprotocol: str | None = None
        self.disconnect_reason = ""
        self._wound_up: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Carry one connection; however its life ends, wind the session up."""
        try:
            await self.carry(scope, receive, send)
        except Exception:
            logger.exception("the WebSocket proxy failed; the session ends as internal_error")
            await self.fail()
        finally:
            if drain.live.draining and self.session is not None:
                # A server may cancel its applications as it stops (daphne's own shutdown
                # trigger means to): the drain ends the session all the same.
                await self.drain(self.session.conf.shutdown_grace)
            else:
                await self.wind_up()

    # --- the protocol's moments -----------------------------------------------------------

    async def connect(self) -> None:
        self.loop = asyncio.get_running_loop()
        logcontext.bind(request_id=logcontext.scope_request_id(self.scope), transport="websocket")
        self.flow = client_flow(self.scope)
        self.session = session = self.session_class.begin(
            self.scope, get_settings(), self.loop.time()
        )
        self.flow.watch_frames(session.conf.proxy_max_frame_bytes, self.frame_broken)
        # The official SDKs offer "realtime" beside the key subprotocol and expect it back.
        if "realtime" in self.scope.get("subprotocols", []):
            self.subprotocol = "realtime"
        try:
            caller = await self.admit()
            session.note_profile(await proxy.profile_for(self.scope, caller), self.scope)
        except proxy.ConnectionRefused as refused:
            # Refused like OpenAI refuses: accept, one error event, then a close.
            session.note_refusal(refused)
            await session.open_record()
            await self.end(proxy.ending(refused.code, refused.message))
            return
        session.note_caller(caller)
        session.start_tools(self.send_upstream)
        record_opened = session.open_record()
        upstream_started = time.perf_counter()
        try:
            self.upstream = await self.open_upstream()
        except upstream.UpstreamError as error:
            await record_opened
            session.note_upstream_failure(error, upstream_started)
            await self.end(proxy.upstream_failure_ending(error))
            return
        session.exchange.upstream_ms = (time.perf_counter() - upstream_started) * 1000
        self.upstream.on_backpressure = self.upstream_backpressure
        await record_opened
        logcontext.bind(session_id=session.session_id, user_id=caller.user_id)
        if session.session_id is not None:  # staff may end it from any process
            await ending.process_channel.join(session.session_id, self.end_for_staff)
        if session.closing:
            return  # drained while it connected; the wind-up closes the new socket
        await self.accept(self.subprotocol)
        if (first := self.first_frame()) is not None:
            # OpenAI may already have refused (an error event, then a close): the relay
            # forwards both, so a failed send here needs no answer of its own.
            with contextlib.suppress(ConnectionClosed):
                await self.upstream.send(first)
        self.spawn(self.relay_upstream())
        self.spawn(self.watch_clock())

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        # Once: a drain may accept (to say why it closes) while connect is still waiting.
        if not self.accepted:
            self.accepted = True
            await super().accept(subprotocol, headers)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.flow.frame_taken()  # even when ignored below: a taken frame frees the backlog
        session = self.session
        if self.upstream is None or session.closing:
            return
        size = policy.frame_size(text_data) if text_data is not None else len(bytes_data or b"")
        if (over := session.note_client_frame(size, self.loop.time())) is not None:
            await self.end(over)
            return
        try:
            if text_data is None:
                raise policy.EventRefused("invalid_event", BINARY_REFUSED)
            event = self.judge(text_data)
        except policy.EventRefused as refused:
            await self.send_event(
                proxy.socket_error_event(
                    refused.code,
                    refused.message,
                    client_event_id=refused.client_event_id,
                    param=refused.param,
                )
            )
            return
        if event.type in self.answer_events:
            if session.tools is not None and (refusal := session.tools.refusal(event.body)):
                await self.send_event(refusal)
                return
            if session.log is not None:
                session.log.client_event(event.body)
        with contextlib.suppress(ConnectionClosed):  # the relay reports the close
            await self.upstream.send(event.forward)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.disconnect_reason = str(message.get("reason") or "")  # uvicorn's, if it closed
        await super().websocket_disconnect(message)

    async def disconnect(self, code: int) -> None:
        """The client's connection is closed: wind the session up."""
        self.flow.note_closed()
        session = self.session
        if session is not None and not session.closing:
            # Not ended by us: the client left, or the server closed it (uvicorn as it
            # stops, or on a frame it refused itself).
            session.closing = True
            reason = self.disconnect_reason or proxy.UNSENT_CLOSES.get(code, "")
            session.client_close = (code, reason)
            session.error_code = proxy.client_gone_error_code(code, draining=drain.live.draining)
        await self.wind_up()

    # --- what differs between the APIs (overridden by realtime.live_consumer) -------------

    async def admit(self) -> proxy.Caller:
        """Return who connects, holding an open-session slot (``proxy.admit``), or raise
        ``proxy.ConnectionRefused``; the session is live from here (a drain waits for it)."""
        if not drain.live.hold(self):
            caller = proxy.Caller(client_ip=proxy.client_address(self.scope))
            raise proxy.ConnectionRefused("server_shutting_down", caller)
        return await proxy.admit(self.scope, self.session.conf, browser_path=self.browser_path)

    async def open_upstream(self) -> upstream.RelaySocket:
        """Open OpenAI's socket for the session's model, with the server key."""
        return await upstream.open_socket(self.session.model)

    def first_frame(self) -> str | None:
        """The frame the proxy sends OpenAI first (None: none): the session's policy."""
        return policy.policy_update(self.session.conf, self.session.profile)

    def judge(self, text: str) -> policy.ClientEvent:
        """Judge one client frame: the event to forward, or ``policy.EventRefused``."""
        session = self.session
        return policy.read_client_event(text, session.conf, session.model, session.profile)

    # --- how a session ends -----------------------------------------------------------------

    async def end_for_staff(self) -> None:
        """Staff ended the session from the admin."""
        await self.end(proxy.ending(ending.END_REASON))

    async def end(self, ending: proxy.Ending) -> None:
        """End the session, whoever ends it: send the ending's error event (if any), close
        the client with its code and reason, and let go of OpenAI at once."""
        if not self.session.note_ending(ending):
            return
        # Accepted first, even to refuse: the client then hears the event and the code.
        await self.accept(self.subprotocol)
        if ending.event is not None:
            await self.send_event(ending.event)
        await self.close_client(ending.close_code, ending.reason)
        await self.close_upstream()

    async def close_client(self, code: int, reason: str) -> None:
        reason = reason.encode()[:123].decode(errors="ignore")  # a close frame's limit
        if not self.flow.close(code, reason):
            await self.close(code, reason)

    def frame_broken(self, code: int, reason: str) -> None:
        # The WebSocket layer refused a frame (realtime.flow); it calls from outside any of
        # our tasks.
        limit = self.session.conf.proxy_max_frame_bytes
        self.spawn(self.end(proxy.broken_frame_ending(code, reason, limit)))

    async def fail(self) -> None:
        """Tell the client the session failed, if it can still hear it (the failure itself
        is in the server's log, never in the event)."""
        session = self.session
        if session is None:
            return
        failed = proxy.ending("internal_error")
        if self.upstream is None:
            session.note_failure()
        try:
            if session.closing:
                # The failure may have cut short the ending under way: close the client
                # (a second close of one already closed is ignored, or raises, here).
                await self.accept(self.subprotocol)
                await self.close_client(failed.close_code, failed.reason)
            else:
                await self.end(failed)
        except Exception:
            logger.debug("could not tell the client its session failed", exc_info=True)

    def drain(self, grace: float) -> asyncio.Future[None]:
        """Tell the client this server is stopping, close it and OpenAI, and end the record,
        within ``grace`` seconds (once, whoever asks: the drain or the cancelled consumer)."""
        if self._drained is None:
            self._drained = asyncio.ensure_future(self._drain(grace))
        return asyncio.shield(self._drained)

    async def _drain(self, grace: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self.end(proxy.ending("server_shutting_down"))
                # The client answers the close, or the WebSocket layer drops it unanswered
                # (Autobahn after 1 s): only then is the close frame surely on its way.
                await self.flow.wait_closed()
        await self.wind_up()

    def wind_up(self) -> asyncio.Future[None]:
        """Finish the session, once: stop its tasks, close OpenAI's socket, give the slot
        back and end the row. A caller cancelled meanwhile does not stop it."""
        if self._wound_up is None:
            self._wound_up = asyncio.ensure_future(self._wind_up())
        return asyncio.shield(self._wound_up)

    async def _wind_up(self) -> None:
        try:
            try:
                for task in self.tasks:
                    task.cancel()
                if self.tasks:
                    await asyncio.wait(self.tasks)
                if self.session is not None and self.session.tools is not None:
                    await self.session.tools.close()
                await self.close_upstream()
            finally:
                if self.session is not None:
                    if self.session.session_id is not None:
                        await ending.process_channel.leave(self.session.session_id)
                    self.flow.release()
                    await self.session.finish()
        finally:
            drain.live.release(self)  # last: a drain waits for the record to be written

    # --- the session's tasks --------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run one of the session's tasks; a failure in it ends the session, never silently."""
        self.tasks.append(asyncio.create_task(self._guarded(coroutine)))

    async def _guarded(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except Exception:
            logger.exception("a WebSocket proxy task failed; the session ends as internal_error")
            await self.fail()

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
                    if session.tools is not None:
                        session.tools.server_frame(message)  # before the client hears it
                    await self.send_text(message)
                    session.bytes_to_client += policy.frame_size(message)
                    if session.log is not None:
                        session.log.server_frame(message)
                else:
                    await self.send_bytes(message)
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
        await self.send_text(text)
        self.session.frames_to_client += 1
        self.session.bytes_to_client += len(text)

    async def send_upstream(self, text: str) -> None:
        """Send an event of the server's own (a tool's output) to OpenAI."""
        if self.upstream is not None:
            with contextlib.suppress(ConnectionClosed):  # the relay reports the close
                await self.upstream.send(text)

    async def close_upstream(self) -> None:
        if self.upstream is not None:
            # close_timeout is 1 s: the upstream socket is gone within a second either way.
            await self.upstream.close()
            if self.session.upstream_close[0] is None:
                self.session.upstream_close = (
                    self.upstream.close_code,
                    self.upstream.close_reason or "",
                )
