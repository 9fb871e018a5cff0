"""Serve Live's WebSockets: ``GET /v1/live/sessions`` and ``…/{id}/attach`` (a sideband).

A primary socket carries no query and sends nothing until its client does; its first frame
must be ``session.start``, answered with ``session.started``. Losing the primary socket
ends its session (``connection_lost``): a new socket needs a new ``session.start``. A
sideband joins a session started anywhere (a REST create, a primary socket) and hears
``session.started`` first, as a realtime sideband hears ``session.created``; it leaves
without ending the session.

Refusals before a session exists are answered at the handshake, with the JSON error body:
a missing or wrong key (401), an unknown session (404), an injected status. Refusals of the
first frame are an ``error`` event, then a close (4000).
"""

from __future__ import annotations

import json
import re
from typing import Any

from realtime.emulator import ids
from realtime.emulator.errors import ApiError
from realtime.emulator.live import events, schema
from realtime.emulator.live.connection import Connection, error_event, register
from realtime.emulator.live.resource import check_model, resolve
from realtime.emulator.live.rest import authorise, not_found
from realtime.emulator.live.session import LiveSession
from realtime.emulator.refusals import status_error
from realtime.emulator.state import session_expiry
from realtime.emulator.websocket import RealtimeSocket, SocketOutput

PRIMARY = "/v1/live/sessions"
ATTACH = re.compile(r"^/v1/live/sessions/(?P<session_id>[^/]+)/attach$")
REFUSED_CLOSE = 4000  # after an error event that refuses the session


class LiveSocket(RealtimeSocket):
    """One Live WebSocket: a primary session socket, or a sideband attached to a session."""

    async def run(self) -> None:
        if (await self.receive())["type"] != "websocket.connect":
            return
        self.note_upgrade()
        path = self.scope["path"]
        attach = ATTACH.match(path)
        if path != PRIMARY and attach is None:
            await self.refuse(404, ApiError(f"Invalid URL (GET {path})", code=None).body())
            return
        fault = self.emulator.take_fault("live_sideband" if attach else "live")
        if fault is not None and fault.never_open:
            await self._wait_for_disconnect()
            return
        if fault is not None and fault.status:
            refusal = status_error(fault.status)
            await self.refuse(refusal.status, refusal.body(), retry_after=fault.retry_after)
            return
        try:
            authorise(self.emulator, self._key())
            session = self.emulator.live_sessions.get(attach["session_id"]) if attach else None
            if attach and (session is None or session.closed):
                raise not_found(attach["session_id"])
        except ApiError as error:
            await self.refuse(error.status, error.body())
            return
        await self.send({"type": "websocket.accept"})
        output = SocketOutput(self.send, fault.drop_after_events if fault else None)
        if session is not None:
            await self._converse(session, Connection(session, "sideband"), output)
            return
        started, start_event_id = await self._start(output)
        if started is not None:
            connection = Connection(started, "websocket")
            await self._converse(started, connection, output, start_event_id)

    async def _start(self, output: SocketOutput) -> tuple[LiveSession | None, str | None]:
        """Read the first frame; return the session it starts (and the frame's event_id),
        or refuse it and close."""
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            output.closed = True
            return None, None
        text = message.get("text") or ""
        event: Any = None
        try:
            event = json.loads(text)
        except ValueError:
            self.emulator.note("event", session_id=None, event={"invalid_json": text[:200]})
        client_event_id = event.get("event_id") if isinstance(event, dict) else None
        try:
            if not isinstance(event, dict) or event.get("type") != "session.start":
                shown = event.get("type") if isinstance(event, dict) else None
                raise ApiError(
                    f"The first event must be session.start, not '{shown}'.",
                    code="session_not_started",
                    param="type",
                )
            events.validate_event(event, ("session.start",))
            config = schema.validate_session(event["session"], transport="websocket")
            check_model(config["model"])
        except ApiError as error:
            if isinstance(event, dict):
                self.emulator.note("event", session_id=None, event=event)
            await self._refuse_start(output, error, client_event_id)
            return None, None
        session_id = ids.live_session_id()
        resource = resolve(
            config,
            session_id=session_id,
            expires_at=session_expiry(self.emulator),
            transport="websocket",
        )
        session = LiveSession(
            resource,
            transport="websocket",
            settings=self.emulator.settings,
            heard=self.emulator.live_heard,
        )
        register(self.emulator, session)
        self.emulator.note("event", session_id=session_id, event=event)
        return session, client_event_id

    async def _refuse_start(
        self, output: SocketOutput, error: ApiError, client_event_id: str | None
    ) -> None:
        event = error_event(error, client_event_id)
        check = self.emulator.settings.check_live_event
        if check is not None:
            check(event, "server")
        try:
            await output.send_text(json.dumps(event, separators=(",", ":")))
        except ConnectionError:
            return
        await output.close(REFUSED_CLOSE, f"{error.type}.{error.code}")

    async def _converse(
        self,
        session: LiveSession,
        connection: Connection,
        output: SocketOutput,
        start_event_id: str | None = None,
    ) -> None:
        connection.output = output
        session.attach(connection)
        try:
            await session.greet(connection, start_event_id)
            while not output.closed and not session.closed:
                message = await self.receive()
                if message["type"] == "websocket.disconnect":
                    output.closed = True
                    break
                text = message.get("text")
                await connection.handle(text if text is not None else message.get("bytes") or b"")
        finally:
            session.detach(connection)
            if connection.kind == "websocket":
                await session.end("connection_lost")
            await output.close(1000, "")
