"""The emulator as an ASGI application: OpenAI's realtime paths under ``/v1``, plus a control
API for tests under ``/_emulator``.

Plain ASGI, no framework: uvicorn serves it, standalone (``python -m realtime.emulator``) or
inside the process that uses it instead of OpenAI (``realtime.emulator.server``). This module
routes and runs the lifespan; the REST endpoints are in :mod:`~realtime.emulator.rest`, the
control API in :mod:`~realtime.emulator.control`, the realtime socket in
:mod:`~realtime.emulator.websocket`, and GPT-Live (REST and sockets under ``/v1/live/``) in
:mod:`~realtime.emulator.live`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime.emulator import rest
from realtime.emulator.control import control
from realtime.emulator.errors import ApiError
from realtime.emulator.http import Receive, Request, Response, Scope, Send, multipart
from realtime.emulator.live import rest as live_rest
from realtime.emulator.live.socket import LiveSocket
from realtime.emulator.refusals import BETA_DISABLED, status_error
from realtime.emulator.state import Emulator, Fault, masked_headers
from realtime.emulator.websocket import RealtimeSocket

BETA_PATHS = {"/v1/realtime/sessions", "/v1/realtime/transcription_sessions", "/v1/realtime"}


class EmulatorApp:
    """ASGI entry point."""

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator or Emulator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket" and scope["path"].startswith("/v1/live/"):
            await LiveSocket(self.emulator, scope, receive, send).run()
        elif scope["type"] == "websocket":
            await RealtimeSocket(self.emulator, scope, receive, send).run()
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def shutdown(self) -> None:
        """End every call and session, as the service going away would."""
        for call in list(self.emulator.calls.values()):
            await call.peer.close()
        for conversation in list(self.emulator.sessions.values()):
            await conversation.close(1001, "going away")
        for session in list(self.emulator.live_sessions.values()):
            await session.shutdown()
        self.emulator.calls.clear()
        self.emulator.sessions.clear()
        self.emulator.live_sessions.clear()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Request(scope, bytes(body))
        fault: Fault | None = None
        if request.path.startswith("/_emulator/"):
            response = await control(self, request)
        else:
            self.emulator.note(
                "http",
                method=request.method,
                path=request.path,
                query=request.query,
                headers=masked_headers(scope.get("headers", [])),
                body=_describe_body(request),
            )
            endpoint, route = (
                live_rest.route(request)
                if request.path.startswith("/v1/live/")
                else rest.route(request)
            )
            fault = self.emulator.take_fault(endpoint) if endpoint else None
            response = await self.api(request, route, fault)
        if response is None:
            # A "hang" fault: never answer; the handler ends when the client gives up.
            while (await receive())["type"] != "http.disconnect":
                pass
        else:
            await response.send(send, truncated=fault is not None and fault.truncate)

    async def api(
        self, request: Request, route: rest.Endpoint | None, fault: Fault | None
    ) -> Response | None:
        """Return the service's answer, or None when a fault says to never answer."""
        if fault is not None:
            if fault.hang:
                return None
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.status is not None:
                return _fault_response(fault)
        if request.headers.get("openai-beta"):
            return Response.error(BETA_DISABLED)
        if route is None:
            if request.path in BETA_PATHS:
                return Response.error(BETA_DISABLED)
            return Response.error(
                ApiError(f"Invalid URL ({request.method} {request.path})", code=None, status=404)
            )
        try:
            return await route(self.emulator, request)
        except ApiError as error:
            return Response.error(error)


def _fault_response(fault: Fault) -> Response:
    headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429 and "retry-after" not in headers:
        headers["retry-after"] = "1"
    if isinstance(fault.body, str):
        return Response(fault.status, fault.body, content_type=fault.content_type, headers=headers)
    body = status_error(fault.status).body() if fault.body is None else fault.body
    return Response(fault.status, body, headers=headers)


def _describe_body(request: Request) -> Any:
    """Return what a test may want to see of a request body; secrets are not in bodies."""
    if not request.body:
        return None
    if request.content_type == "application/json":
        try:
            return json.loads(request.body)
        except ValueError:
            return {"invalid_json": request.body[:500].decode("utf-8", "replace")}
    if request.content_type == "multipart/form-data":
        try:
            return {
                "parts": {
                    name: data.decode("utf-8", "replace")
                    for name, data in multipart(request).items()
                }
            }
        except ApiError:
            return {"unparsed_bytes": len(request.body)}
    return request.body.decode("utf-8", "replace")
