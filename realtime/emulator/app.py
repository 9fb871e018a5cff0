"""The emulator as an ASGI application: OpenAI's realtime paths under ``/v1``, plus a control
API for tests under ``/_emulator``.

Plain ASGI, no framework: uvicorn serves it, standalone (``python -m realtime.emulator``) or
inside the process that uses it instead of OpenAI (``realtime.emulator.server``).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import logging
import re
import time
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from realtime.emulator import ids, schema
from realtime.emulator.conversation import Conversation
from realtime.emulator.errors import ApiError
from realtime.emulator.peer import CallPeer
from realtime.emulator.state import Call, Emulator, Fault, mask, masked_headers

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Any
Send = Any

CALL_ACTION = re.compile(r"^/v1/realtime/calls/(?P<call_id>[^/]+)/(?P<action>[a-z]+)$")
BETA_PATHS = {"/v1/realtime/sessions", "/v1/realtime/transcription_sessions", "/v1/realtime"}
STATUS_ERRORS = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", None, "Not found."),
    429: (
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
BETA_DISABLED = ApiError(
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
    code="beta_api_shape_disabled",
)
INVALID_JSON_BODY = ApiError(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)",
    code=None,
)
MISSING_AUTH = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
    "(with blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)


def query_of(scope: Scope) -> dict[str, str]:
    query = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(query).items()}


def headers_of(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def bearer_of(headers: dict[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Request:
    def __init__(self, scope: Scope, body: bytes) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query = query_of(scope)
        self.headers = headers_of(scope)
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def bearer(self) -> str | None:
        return bearer_of(self.headers)


class Response:
    def __init__(
        self,
        status: int,
        body: bytes | str | dict | None = None,
        *,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body)
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode()
        self.body = body or b""
        if content_type:
            self.headers["content-type"] = content_type

    @classmethod
    def error(cls, error: ApiError, headers: dict[str, str] | None = None) -> Response:
        return cls(error.status, error.body(), headers=headers)

    async def send(self, send: Send) -> None:
        headers = [(name.encode(), value.encode()) for name, value in self.headers.items()]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class EmulatorApp:
    """ASGI entry point."""

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator or Emulator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
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
        self.emulator.calls.clear()
        self.emulator.sessions.clear()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Request(scope, bytes(body))
        if request.path.startswith("/_emulator/"):
            response = await self.control(request)
        else:
            self.emulator.note(
                "http",
                method=request.method,
                path=request.path,
                query=request.query,
                headers=masked_headers(scope.get("headers", [])),
                body=_describe_body(request),
            )
            response = await self.api(request)
        if response is None:
            # A "hang" fault: never answer; the handler ends when the client gives up.
            while (await receive())["type"] != "http.disconnect":
                pass
        else:
            await response.send(send)

    # --- OpenAI's endpoints ------------------------------------------------------------------

    async def api(self, request: Request) -> Response | None:
        """The service's answer, or None when a fault says to never answer."""
        endpoint, route = self._route(request)
        fault = self.emulator.take_fault(endpoint) if endpoint else None
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
            return await route(request)
        except ApiError as error:
            return Response.error(error)

    def _route(self, request: Request) -> tuple[str | None, Any]:
        if request.method != "POST":
            return None, None
        if request.path == "/v1/realtime/client_secrets":
            return "client_secrets", self.client_secrets
        if request.path == "/v1/realtime/calls":
            return "calls", self.create_call
        if match := CALL_ACTION.match(request.path):
            return ("hangup" if match["action"] == "hangup" else None), self.call_action
        return None, None

    def _server_key(self, request: Request) -> None:
        key = request.bearer()
        if key is None:
            raise ApiError(MISSING_AUTH, code=None, status=401)
        if not self.emulator.accepts_server_key(key):
            raise _invalid_key(key)

    async def client_secrets(self, request: Request) -> Response:
        self._server_key(request)
        if request.content_type != "application/json":
            raise _unsupported_content_type(request.content_type, "'application/json'")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise INVALID_JSON_BODY from None
        ttl, session_request = schema.validate_client_secret_request(body)
        session = schema.effective_session(session_request)
        secret = self.emulator.mint(ttl, session)
        return Response(
            200, {"value": secret.value, "expires_at": secret.expires_at, "session": session}
        )

    async def create_call(self, request: Request) -> Response:
        key = request.bearer()
        if key is None:
            raise ApiError(MISSING_AUTH, code=None, status=401)
        if request.content_type == "application/sdp":
            secret = self.emulator.live_secret(key)
            if secret is None:
                if self.emulator.accepts_server_key(key):
                    raise ApiError(
                        "Raw SDP offers are reserved for ephemeral client secrets; with an API "
                        "key, send multipart/form-data with 'sdp' and 'session' parts.",
                        code="invalid_request_error",
                    )
                raise _invalid_key(key)
            offer, session = request.body.decode("utf-8", "replace"), secret.session
        elif request.content_type == "multipart/form-data":
            if not (self.emulator.accepts_server_key(key) or self.emulator.live_secret(key)):
                raise _invalid_key(key)
            parts = _multipart(request)
            if "sdp" not in parts:
                raise ApiError(
                    "Missing required parameter: 'sdp'.",
                    code="missing_required_parameter",
                    param="sdp",
                )
            offer = parts["sdp"].decode("utf-8", "replace")
            if "session" in parts:
                try:
                    requested = json.loads(parts["session"])
                except ValueError:
                    raise ApiError(
                        "Invalid 'session': expected a JSON object.",
                        code="invalid_value",
                        param="session",
                    ) from None
                schema.validate_session_request(requested, types=("realtime",))
                session = schema.effective_session(requested)
            elif secret := self.emulator.live_secret(key):
                session = secret.session
            else:
                session = schema.effective_session(None)
        else:
            raise _unsupported_content_type(
                request.content_type, "'application/sdp' or 'multipart/form-data'"
            )
        if session["type"] == "realtime":
            schema.check_served(session["model"], param="session.model")
        if not offer.startswith("v="):
            raise ApiError(
                "Invalid SDP offer: it must start with 'v='.", code="invalid_offer", param="sdp"
            )
        call_id = ids.webrtc_call_id()
        answer = await self.start_call(call_id, offer, session)
        return Response(
            201,
            answer,
            content_type="application/sdp",
            headers={"location": f"/v1/realtime/calls/{call_id}"},
        )

    async def start_call(self, call_id: str, offer: str, session: dict[str, Any]) -> str:
        emulator = self.emulator
        session = dict(session, expires_at=_session_expiry(emulator))
        conversation: Conversation

        async def on_channel(channel: Any) -> None:
            output = DataChannelOutput(channel, conversation)
            conversation.attach(output)
            await conversation.greet(output)

        async def on_closed() -> None:
            emulator.calls.pop(call_id, None)
            emulator.sessions.pop(session["id"], None)
            await conversation.close()

        peer = CallPeer(
            on_channel=on_channel,
            on_audio=lambda pcm: conversation.feed_audio(pcm),
            on_drained=lambda: conversation.playback_stopped(),
            on_closed=on_closed,
        )
        conversation = Conversation(
            session, transport="webrtc", settings=emulator.settings, audio_sink=peer.track
        )
        record_client_events(emulator, conversation)
        try:
            answer = await peer.answer(offer)
        except Exception as error:  # aiortc rejects offers with a variety of exceptions
            await peer.close()
            raise ApiError(
                f"Invalid SDP offer: {error}", code="invalid_offer", param="sdp"
            ) from None
        emulator.calls[call_id] = Call(call_id, conversation, peer)
        emulator.sessions[session["id"]] = conversation
        conversation.on_close.append(peer.close)  # an expired session ends the call
        return answer

    async def call_action(self, request: Request) -> Response:
        self._server_key(request)
        match = CALL_ACTION.match(request.path)
        call = self.emulator.calls.get(match["call_id"])
        action = match["action"]
        if action not in {"hangup", "accept", "reject", "refer"}:
            raise ApiError(f"Invalid URL (POST {request.path})", code=None, status=404)
        if call is None:
            raise ApiError(
                f"No call found with id '{match['call_id']}'.", code="call_not_found", status=404
            )
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            raise INVALID_JSON_BODY from None
        if action == "accept":
            schema.validate_session_request(body, prefix="", types=("realtime",))
        if action == "refer" and "target_uri" not in body:
            raise ApiError(
                "Missing required parameter: 'target_uri'.",
                code="missing_required_parameter",
                param="target_uri",
            )
        if action in {"hangup", "reject"}:
            await call.peer.close()
        return Response(200)

    # --- the control API, for tests --------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        emulator = self.emulator
        route = (request.method, request.path)
        if route == ("GET", "/_emulator/state"):
            return Response(200, emulator.describe())
        if route == ("GET", "/_emulator/received"):
            since_text = request.query.get("since", "0")
            since = int(since_text) if since_text.isdigit() else 0
            records = list(emulator.received)
            first = emulator.received_total - len(records)
            return Response(
                200, {"total": emulator.received_total, "records": records[max(0, since - first) :]}
            )
        if route == ("GET", "/_emulator/invalid-events"):
            return Response(200, {"events": emulator.invalid_events})
        if route == ("POST", "/_emulator/reset"):
            await self.shutdown()  # each test starts with no calls or sessions left over
            emulator.reset()
            return Response(204)
        if route == ("POST", "/_emulator/faults"):
            try:
                fault = Fault(**json.loads(request.body))
            except (TypeError, ValueError) as error:
                return Response(400, {"error": str(error)})
            emulator.faults.append(fault)
            return Response(201, {"faults": [asdict(each) for each in emulator.faults]})
        if route == ("DELETE", "/_emulator/faults"):
            emulator.faults.clear()
            return Response(204)
        if request.method == "POST" and request.path.startswith("/_emulator/secrets/"):
            value = request.path.removeprefix("/_emulator/secrets/").removesuffix("/expire")
            if value not in emulator.secrets:
                return Response(404, {"error": "no such secret"})
            emulator.secrets[value].expires_at = 0
            return Response(204)
        return Response(404, {"error": f"no control endpoint {request.method} {request.path}"})


class DataChannelOutput:
    """Server events over the call's ``oai-events`` channel; client events back, in order."""

    def __init__(self, channel: Any, conversation: Conversation) -> None:
        self.channel = channel
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read(conversation))
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._closed(conversation))

    async def _read(self, conversation: Conversation) -> None:
        while True:
            await conversation.handle(await self._inbox.get())

    def _closed(self, conversation: Conversation) -> None:
        conversation.detach(self)
        self._reader.cancel()

    async def send_text(self, text: str) -> None:
        if self.channel.readyState != "open":
            raise ConnectionError("the data channel is closed")
        self.channel.send(text)

    async def close(self, code: int, reason: str) -> None:
        self.channel.close()


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
        self.emulator.note(
            "websocket",
            path=self.scope["path"],
            query=self.query,
            headers=masked_headers(self.scope.get("headers", [])),
            subprotocols=[mask(protocol) for protocol in self.subprotocols],
        )
        if self.scope["path"] != "/v1/realtime":
            await self.refuse(404)
            return
        fault = self.emulator.take_fault("realtime")
        if fault is not None and fault.never_open:
            await self._wait_for_disconnect()
            return
        if fault is not None and fault.status is not None:
            await self.refuse(fault.status)
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
            conversation, owned = self._open_session(call_id)
        except ApiError as error:
            # The service answers these after the upgrade: one error event, then a close.
            await output.send_text(json.dumps(error.event(ids.event_id(), None)))
            close_code = 3000 if error.status == 401 else 4000
            reason = f"{error.type}.{error.code}" if error.code else error.type
            await output.close(close_code, reason)
            return
        await self._converse(conversation, output, owned)

    def _key(self) -> str | None:
        for protocol in self.subprotocols:
            if protocol.startswith("openai-insecure-api-key."):
                return protocol.removeprefix("openai-insecure-api-key.")
        return bearer_of(self.headers)

    def _open_session(self, call_id: str | None) -> tuple[Conversation, bool]:
        """The conversation this socket speaks for, checked as the service checks it."""
        if self.headers.get("openai-beta"):
            raise BETA_DISABLED
        key = self._key()
        if key is None:
            raise ApiError(
                "Missing bearer or basic authentication in header", code=None, status=401
            )
        secret = self.emulator.live_secret(key)
        if secret is None and not self.emulator.accepts_server_key(key):
            raise ApiError(_invalid_key(key).message, code="invalid_api_key", status=401)
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
                schema.check_served(session["model"])
        elif transcription:
            session = schema.effective_session({"type": "transcription"})
        elif model is None:
            raise ApiError(
                "You must provide a model parameter, for example "
                "wss://api.openai.com/v1/realtime?model=gpt-realtime-1.5",
                code="missing_model",
            )
        else:
            schema.check_served(model)
            session = schema.effective_session({"type": "realtime", "model": model})
        session["id"] = ids.session_id()
        session["expires_at"] = _session_expiry(self.emulator)
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

    async def refuse(self, status: int) -> None:
        if "websocket.http.response" in self.scope.get("extensions", {}):
            await self.send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [(b"content-length", b"0")],
                }
            )
            await self.send({"type": "websocket.http.response.body", "body": b""})
        else:
            await self.send({"type": "websocket.close", "code": 1008})

    async def _wait_for_disconnect(self) -> None:
        while (await self.receive())["type"] != "websocket.disconnect":
            pass


def record_client_events(emulator: Emulator, conversation: Conversation) -> None:
    """Keep each client event the conversation receives for the control API."""
    session_id = conversation.session["id"]
    conversation.on_client_event = lambda event: emulator.note(
        "event", session_id=session_id, event=event
    )


def _session_expiry(emulator: Emulator) -> int:
    return int(time.time()) + emulator.settings.session_seconds


def _invalid_key(key: str) -> ApiError:
    shown = mask(key) if len(key) > 8 else key
    return ApiError(
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
        status=401,
    )


def _unsupported_content_type(content_type: str, accepted: str) -> ApiError:
    shown = content_type or "(none)"
    return ApiError(
        f"Unsupported content type: '{shown}'. This API method only accepts {accepted} requests, "
        f"but you specified the header 'Content-Type: {shown}'. Please try again with a "
        "supported content type.",
        code="unsupported_content_type",
    )


def _fault_response(fault: Fault) -> Response:
    headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429 and "retry-after" not in headers:
        headers["retry-after"] = "1"
    if isinstance(fault.body, str):
        return Response(fault.status, fault.body, content_type=fault.content_type, headers=headers)
    if fault.body is None:
        error_type, code, message = STATUS_ERRORS.get(
            fault.status, ("server_error", None, f"Injected status {fault.status}.")
        )
        body = ApiError(message, code=code, type=error_type, status=fault.status).body()
    else:
        body = fault.body
    return Response(fault.status, body, headers=headers)


def _multipart(request: Request) -> dict[str, bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.body
    )
    if not message.is_multipart():
        raise ApiError("Could not parse the multipart form body.", code="invalid_multipart")
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[name] = part.get_payload(decode=True) or b""
    return parts


def _describe_body(request: Request) -> Any:
    """What a test may want to see of a request body; secrets are not in bodies."""
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
                    for name, data in _multipart(request).items()
                }
            }
        except ApiError:
            return {"unparsed_bytes": len(request.body)}
    return request.body.decode("utf-8", "replace")
