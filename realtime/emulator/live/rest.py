"""Answer Live's REST endpoints: ``POST /v1/live/sessions`` and a session's call actions.

Every request carries a server key (``Authorization: Bearer sk-…``); Live has no ephemeral
secrets. A create is JSON, not SDP: ``{"session": {…}, "transport": {"type": "webrtc",
"sdp": offer}}``, answered 201 with the session's id and the emulator's SDP answer. The
actions (``hangup``, ``accept``, ``reject``, ``refer``) answer 200 with no body; hangup and
reject end the session (``close_requested``), accept and refer only check their bodies,
since the emulator has no SIP calls waiting to be answered or transferred.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.emulator import ids
from realtime.emulator.errors import ApiError, missing_parameter, unknown_parameter
from realtime.emulator.http import Request, Response
from realtime.emulator.live import schema
from realtime.emulator.live.resource import check_model, resolve
from realtime.emulator.refusals import invalid_key
from realtime.emulator.rest import INVALID_JSON_BODY, MISSING_AUTH, unsupported_content_type
from realtime.emulator.spec import Int, Str, check, invalid_type, obj
from realtime.emulator.state import Emulator, session_expiry

Endpoint = Callable[[Emulator, Request], Awaitable[Response]]

CREATE = "/v1/live/sessions"
SESSION_ACTION = re.compile(r"^/v1/live/sessions/(?P<session_id>[^/]+)/(?P<action>[a-z]+)$")
ACTIONS = ("hangup", "accept", "reject", "refer")
TRANSPORT = obj(("type", "sdp"), type=Str(choices=("webrtc",)), sdp=Str())
REJECT = obj(("status_code",), status_code=Int(minimum=300, maximum=699))
REFER = obj(("target_uri",), target_uri=Str())


def route(request: Request) -> tuple[str | None, Endpoint | None]:
    """Return the request's endpoint (as faults name it) and the function that answers it."""
    if request.method != "POST":
        return None, None
    if request.path == CREATE:
        return "live_sessions", create
    if (match := SESSION_ACTION.match(request.path)) and match["action"] in ACTIONS:
        return ("live_hangup" if match["action"] == "hangup" else None), session_action
    return None, None


def authorise(emulator: Emulator, key: str | None) -> None:
    """Raise the service's 401 unless ``key`` is a server key this emulator accepts."""
    if key is None:
        raise ApiError(MISSING_AUTH, code="missing_authorization", status=401)
    if not emulator.accepts_server_key(key):
        raise invalid_key(key)


def not_found(session_id: str) -> ApiError:
    return ApiError(
        f"No session found with id '{session_id}'.", code="session_not_found", status=404
    )


async def create(emulator: Emulator, request: Request) -> Response:
    authorise(emulator, request.bearer())
    body = _json_body(request)
    if not isinstance(body, dict):
        raise invalid_type("body", obj(), body)
    for key in body:
        if key not in {"session", "transport"}:
            raise unknown_parameter(key)
    for key in ("session", "transport"):
        if key not in body:
            raise missing_parameter(key)
    check(TRANSPORT, body["transport"], "transport")
    config = schema.validate_session(body["session"], transport="webrtc")
    check_model(config["model"])
    offer = body["transport"]["sdp"]
    if not offer.startswith("v="):
        raise ApiError(
            "Invalid SDP offer: it must start with 'v='.",
            code="invalid_offer",
            param="transport.sdp",
        )
    # Imported here: the WebRTC side needs aiortc, which the rest of the module does not.
    from realtime.emulator.live.webrtc import start_webrtc_session

    session_id = ids.live_session_id()
    resource = resolve(
        config, session_id=session_id, expires_at=session_expiry(emulator), transport="webrtc"
    )
    answer = await start_webrtc_session(emulator, resource, offer)
    return Response(
        201, {"session": {"id": session_id}, "transport": {"type": "webrtc", "sdp": answer}}
    )


async def session_action(emulator: Emulator, request: Request) -> Response:
    authorise(emulator, request.bearer())
    match = SESSION_ACTION.match(request.path)
    session = emulator.live_sessions.get(match["session_id"])
    if session is None or session.closed:
        raise not_found(match["session_id"])
    action = match["action"]
    body = _json_body(request) if request.body.strip() else {}
    if action == "accept":
        _check_accept(body)
    elif action == "reject":
        check(REJECT, body, "")
    elif action == "refer":
        check(REFER, body, "")
    if action in {"hangup", "reject"}:
        await session.end("close_requested")
    return Response(200)


def _check_accept(body: Any) -> None:
    """Check an accept's ``{"session": {"type": "live", "model": …}}``."""
    if not isinstance(body, dict) or "session" not in body:
        raise missing_parameter("session")
    for key in body:
        if key != "session":
            raise unknown_parameter(key)
    session = body["session"]
    if not isinstance(session, dict):
        raise invalid_type("session", obj(), session)
    if session.get("type") != "live":
        raise ApiError(
            f"Invalid value: '{session.get('type')}'. Supported values are: 'live'.",
            code="invalid_value",
            param="session.type",
        )
    config = {key: value for key, value in session.items() if key != "type"}
    schema.validate_session(config, transport="webrtc")
    check_model(config["model"])


def _json_body(request: Request) -> Any:
    if request.content_type != "application/json":
        raise unsupported_content_type(request.content_type, "'application/json'")
    try:
        return json.loads(request.body)
    except ValueError:
        raise INVALID_JSON_BODY from None
