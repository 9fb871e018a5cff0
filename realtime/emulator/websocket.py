"""Serve ``GET /v1/realtime``: a realtime session over WebSocket, or a sideband to a call."""

from __future__ import annotations

import json
import logging

from realtime.emulator import availability, ids, sessions
from realtime.emulator.conversation import Conversation
from realtime.emulator.errors import ApiError
from realtime.emulator.http import Receive, Scope, Send, bearer_of, headers_of, query_of
from realtime.emulator.refusals import BETA_DISABLED, invalid_key, status_error
from realtime.emulator.state import (
    Emulator,
    mask,
    masked_headers,
    record_client_events,
    session_expiry,
)

logger = logging.getLogger(__name__)


class SocketOutput:
    """Server events over an accepted ASGI WebSocket."""

    def __init__(self, send: Send, drop_after_events: int | None = None) -> None:
        self._send = send
        self.closed = False
        self.sent = 0
        self.drop_after_events = drop_after_events

    async def send_text(self, text: str) -> None:
        if self.closed:
            raise ConnectionError("the socket is closed")
        try:
            await self._send({"type": "websocket.send", "text": text})
        except Exception as error:  # servers raise their own "client gone" errors
            self.closed = True
            raise ConnectionError(str(error)) from error
        self.sent += 1
        if self.drop_after_events is not None and self.sent >= self.drop_after_events:
            # An injected fault: the connection breaks, as a dropped network would.
            await self.close(1011, "")
            raise ConnectionError("dropped by an injected fault")

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:
            logger.debug("socket already closed")


class RealtimeSocket:
    """``GET /v1/realtime``: a realtime session over WebSocket, or a sideband to a call."""

    def __init__(self, emulator: Emulator, scope: Scope, receive: Receive, send: Send) -> None:
        self.emulator = emulator
        self.scope = scope
        self.receive = receive
        self.send = send
        self.query = query_of(scope)
        self.headers = headers_of(scope)
        self.subprotocols: list[str] = list(scope.get("subprotocols") or [])

    async def run(self) -> None:
        if (await self.receive())["type"] != "websocket.connect":
            return
        self.note_upgrade()
        if self.scope["path"] != "/v1/realtime":
            await self.refuse(404)
            return
        fault = self.emulator.take_fault("sideband" if "call_id" in self.query else "realtime")
        if fault is not None and fault.never_open:
            await self._wait_for_disconnect()
            return
        refusal = status_error(fault.status) if fault is not None and fault.status else None
        if refusal is not None and not (400 <= refusal.status < 500 and refusal.status != 429):
            # Overload, server errors and answers that are no upgrade come from in front of
            # the session: the upgrade itself is answered, with the error body.
            await self.refuse(refusal.status, refusal.body(), retry_after=fault.retry_after)
            return
        call_id = self.query.get("call_id")
        if call_id is not None and call_id not in self.emulator.calls:
            await self.refuse(404)  # the service refuses unknown calls at the handshake
            return
        await self.send(
            {
                "type": "websocket.accept",
                "subprotocol": "realtime" if "realtime" in self.subprotocols else None,
            }
        )
        output = SocketOutput(self.send, fault.drop_after_events if fault else None)
        try:
            if refusal is not None:
                raise refusal  # answered after the upgrade, as the service answers a bad key
            conversation, owned = self._open_session(call_id)
        except ApiError as error:
            # The service answers these after the upgrade: one error event, then a close.
            await output.send_text(json.dumps(error.event(ids.event_id(), None)))
            close_code = 3000 if error.status == 401 else 4000
            reason = f"{error.type}.{error.code}" if error.code else error.type
            await output.close(close_code, reason)
            return
        await self._converse(conversation, output, owned)

    def note_upgrade(self) -> None:
        """Record the upgrade request for the control API, secrets masked."""
        self.emulator.note(
            "websocket",
            path=self.scope["path"],
            query=self.query,
            headers=masked_headers(self.scope.get("headers", [])),
            subprotocols=[mask(protocol) for protocol in self.subprotocols],
        )

    def _key(self) -> str | None:
        for protocol in self.subprotocols:
            if protocol.startswith("openai-insecure-api-key."):
                return protocol.removeprefix("openai-insecure-api-key.")
        return bearer_of(self.headers)

    def _open_session(self, call_id: str | None) -> tuple[Conversation, bool]:
        """Return the conversation this socket speaks for, checked as the service checks it."""
        if self.headers.get("openai-beta"):
            raise BETA_DISABLED
        key = self._key()
        if key is None:
            raise ApiError(
                "Missing bearer or basic authentication in header", code=None, status=401
            )
        secret = self.emulator.live_secret(key)
        if secret is None and not self.emulator.accepts_server_key(key):
            raise ApiError(invalid_key(key).message, code="invalid_api_key", status=401)
        if call_id is not None:
            if secret is not None:
                raise ApiError(
                    "Sideband connections require an API key.", code="invalid_api_key", status=401
                )
            return self.emulator.calls[call_id].conversation, False
        model = self.query.get("model")
        transcription = self.query.get("intent") == "transcription"
        if secret is not None:
            session = dict(secret.session)
            if session["type"] == "realtime":
                availability.check_served(session["model"])
        elif transcription:
            session = sessions.effective_session({"type": "transcription"})
        elif model is None:
            raise ApiError(
                "You must provide a model parameter, for example "
                "wss://api.openai.com/v1/realtime?model=gpt-realtime-1.5",
                code="missing_model",
            )
        else:
            availability.check_served(model)
            session = sessions.effective_session({"type": "realtime", "model": model})
        session["id"] = ids.session_id()
        session["expires_at"] = session_expiry(self.emulator)
        conversation = Conversation(session, transport="websocket", settings=self.emulator.settings)
        record_client_events(self.emulator, conversation)
        self.emulator.sessions[session["id"]] = conversation
        return conversation, True

    async def _converse(
        self, conversation: Conversation, output: SocketOutput, owned: bool
    ) -> None:
        conversation.attach(output)
        try:
            await conversation.greet(output)
            while not output.closed:
                message = await self.receive()
                if message["type"] == "websocket.disconnect":
                    output.closed = True
                    break
                text = message.get("text")
                await conversation.handle(text if text is not None else message.get("bytes") or b"")
        finally:
            conversation.detach(output)
            if owned:
                self.emulator.sessions.pop(conversation.session["id"], None)
                await conversation.close()
            await output.close(1000, "")

    async def refuse(
        self, status: int, body: dict | None = None, *, retry_after: int | None = None
    ) -> None:
        """Refuse the upgrade with an HTTP answer (where the server lets an application)."""
        if "websocket.http.response" in self.scope.get("extensions", {}):
            content = json.dumps(body).encode() if body is not None else b""
            headers = [(b"content-length", str(len(content)).encode())]
            if body is not None:
                headers.append((b"content-type", b"application/json"))
            if retry_after is not None or status == 429:
                headers.append((b"retry-after", str(retry_after or 1).encode()))
            await self.send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await self.send({"type": "websocket.http.response.body", "body": content})
        else:
            await self.send({"type": "websocket.close", "code": 1008})

    async def _wait_for_disconnect(self) -> None:
        while (await self.receive())["type"] != "websocket.disconnect":
            pass
