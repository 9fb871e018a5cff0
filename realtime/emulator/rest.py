"""Answer OpenAI's realtime REST endpoints: client secrets, calls and call actions."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.emulator import availability, ids, schema, sessions
from realtime.emulator.channel import DataChannelOutput
from realtime.emulator.conversation import Conversation
from realtime.emulator.errors import ApiError
from realtime.emulator.http import Request, Response, multipart
from realtime.emulator.peer import CallPeer
from realtime.emulator.refusals import invalid_key
from realtime.emulator.state import Call, Emulator, record_client_events, session_expiry

Endpoint = Callable[[Emulator, Request], Awaitable[Response]]

CALL_ACTION = re.compile(r"^/v1/realtime/calls/(?P<call_id>[^/]+)/(?P<action>[a-z]+)$")
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


def route(request: Request) -> tuple[str | None, Endpoint | None]:
    """Return the request's endpoint (as faults name it) and the function that answers it."""
    if request.method != "POST":
        return None, None
    if request.path == "/v1/realtime/client_secrets":
        return "client_secrets", client_secrets
    if request.path == "/v1/realtime/calls":
        return "calls", create_call
    if match := CALL_ACTION.match(request.path):
        return ("hangup" if match["action"] == "hangup" else None), call_action
    return None, None


def _key(request: Request) -> str:
    key = request.bearer()
    if key is None:
        raise ApiError(MISSING_AUTH, code=None, status=401)
    return key


def _server_key(emulator: Emulator, request: Request) -> None:
    key = _key(request)
    if not emulator.accepts_server_key(key):
        raise invalid_key(key)


async def client_secrets(emulator: Emulator, request: Request) -> Response:
    _server_key(emulator, request)
    if request.content_type != "application/json":
        raise unsupported_content_type(request.content_type, "'application/json'")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise INVALID_JSON_BODY from None
    ttl, session_request = schema.validate_client_secret_request(body)
    session = sessions.effective_session(session_request)
    secret = emulator.mint(ttl, session)
    return Response(
        200, {"value": secret.value, "expires_at": secret.expires_at, "session": session}
    )


async def create_call(emulator: Emulator, request: Request) -> Response:
    key = _key(request)
    if request.content_type == "application/sdp":
        secret = emulator.live_secret(key)
        if secret is None:
            if emulator.accepts_server_key(key):
                raise ApiError(
                    "Raw SDP offers are reserved for ephemeral client secrets; with an API "
                    "key, send multipart/form-data with 'sdp' and 'session' parts.",
                    code="invalid_request_error",
                )
            raise invalid_key(key)
        offer, session = request.body.decode("utf-8", "replace"), secret.session
    elif request.content_type == "multipart/form-data":
        if not (emulator.accepts_server_key(key) or emulator.live_secret(key)):
            raise invalid_key(key)
        parts = multipart(request)
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
            session = sessions.effective_session(requested)
        elif secret := emulator.live_secret(key):
            session = secret.session
        else:
            session = sessions.effective_session(None)
    else:
        raise unsupported_content_type(
            request.content_type, "'application/sdp' or 'multipart/form-data'"
        )
    if session["type"] == "realtime":
        availability.check_served(session["model"], param="session.model")
    if not offer.startswith("v="):
        raise ApiError(
            "Invalid SDP offer: it must start with 'v='.", code="invalid_offer", param="sdp"
        )
    call_id = ids.webrtc_call_id()
    answer = await start_call(emulator, call_id, offer, session)
    return Response(
        201,
        answer,
        content_type="application/sdp",
        headers={"location": f"/v1/realtime/calls/{call_id}"},
    )


async def start_call(emulator: Emulator, call_id: str, offer: str, session: dict[str, Any]) -> str:
    session = dict(session, expires_at=session_expiry(emulator))
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
        raise ApiError(f"Invalid SDP offer: {error}", code="invalid_offer", param="sdp") from None
    emulator.calls[call_id] = Call(call_id, conversation, peer)
    emulator.sessions[session["id"]] = conversation
    conversation.on_close.append(peer.close)  # an expired session ends the call
    return answer


async def call_action(emulator: Emulator, request: Request) -> Response:
    _server_key(emulator, request)
    match = CALL_ACTION.match(request.path)
    call = emulator.calls.get(match["call_id"])
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


def unsupported_content_type(content_type: str, accepted: str) -> ApiError:
    shown = content_type or "(none)"
    return ApiError(
        f"Unsupported content type: '{shown}'. This API method only accepts {accepted} requests, "
        f"but you specified the header 'Content-Type: {shown}'. Please try again with a "
        "supported content type.",
        code="unsupported_content_type",
    )
