"""GPT-Live's side of the upstream boundary: ``/live/sessions`` over HTTP and WebSocket.

Live is OpenAI's second voice API, not a variant of realtime: a WebRTC session is created
with JSON (not SDP), its WebSocket takes ``session.start`` as its first frame, and a
sideband ``attach``es to a session by id. There are no ephemeral secrets, so every call
carries the server key; none sends ``OpenAI-Beta`` or puts the model in the query.

Everything goes through ``realtime.upstream``: its pooled client and ``send_request`` for HTTP,
its ``connect_socket`` for WebSockets, and so its typed errors, mapped as the realtime
calls map them, and its in-process emulator when ``REALTIME_EMULATOR`` is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from realtime.upstream import (
    RelaySocket,
    UpstreamInvalidAnswer,
    base_url,
    connect_socket,
    send_request,
    socket_url,
)

# The shape of a session id in captured traffic: "live_" and URL-safe characters (1 to 128
# of them in OpenAI's spec; ids seen are 21). At most 95 are taken, so that an id fits the
# 100 characters of the rows' call id column, where the relay keeps it.
LIVE_SESSION_ID = re.compile(r"live_[A-Za-z0-9_-]{1,95}")


@dataclass(frozen=True)
class LiveSessionAnswer:
    session_id: str
    sdp: str
    status: int
    response_bytes: int
    payload: dict[str, Any]  # the whole answer, which an SDK-compatible relay passes on


async def create_live_session(session_config: dict[str, Any], offer_sdp: str) -> LiveSessionAnswer:
    """``POST /live/sessions`` with the server key: the session and the offer in, as JSON;
    the session's id and the SDP answer out.

    The offer goes unchanged. A success whose body is not ``{"session": {"id": "live_…"},
    "transport": {"type": "webrtc", "sdp": "v=…"}}`` is an ``UpstreamInvalidAnswer`` (the
    session may exist: its id cannot be trusted, so it cannot be hung up).
    """
    body = {"session": session_config, "transport": {"type": "webrtc", "sdp": offer_sdp}}
    response = await send_request(
        "POST",
        f"{await base_url()}/live/sessions",
        json=body,
        headers={"Accept": "application/json"},
    )
    try:
        payload = response.json()
        session_id, transport = payload["session"]["id"], payload["transport"]
        sdp, kind = transport["sdp"], transport["type"]
    except (ValueError, KeyError, TypeError):
        raise UpstreamInvalidAnswer(
            response.status_code, response.text, "no Live session in its body"
        ) from None
    if not isinstance(session_id, str) or not LIVE_SESSION_ID.fullmatch(session_id):
        raise UpstreamInvalidAnswer(
            response.status_code, response.text, "a session id that is not live_…"
        )
    if kind != "webrtc" or not isinstance(sdp, str) or not sdp.startswith("v="):
        raise UpstreamInvalidAnswer(
            response.status_code, response.text, "a transport with no WebRTC SDP answer"
        )
    return LiveSessionAnswer(
        session_id=session_id,
        sdp=sdp,
        status=response.status_code,
        response_bytes=len(response.content),
        payload=payload,
    )


async def hang_up_live_session(session_id: str) -> int:
    """``POST /live/sessions/{session_id}/hangup`` with the server key; OpenAI's status.

    No body goes, and the answer's is not read (as the SDK does): only its status counts.
    """
    url = f"{await base_url()}/live/sessions/{quote(session_id, safe='')}/hangup"
    return (await send_request("POST", url, headers={"Accept": "*/*"})).status_code


async def open_live_socket() -> RelaySocket:
    """Open Live's WebSocket (``wss://…/live/sessions``: no query, no subprotocol) with the
    server key.

    Nothing is sent: the caller's first frame must be ``session.start``. As with realtime,
    a bad key is refused at the upgrade, a bad session after it (an ``error`` event, then a
    close), so success here only means the upgrade happened.
    """
    return await connect_socket(socket_url(await base_url(), "live/sessions"))


async def attach_live_sideband(session_id: str, *, graceful_close: bool = True) -> RelaySocket:
    """Open the sideband of a Live session (``…/live/sessions/{id}/attach``) with the server
    key; a session OpenAI does not know is refused at the upgrade (an ``UpstreamHTTPError``
    with status 404, as for a realtime call's sideband).

    ``graceful_close`` opts in to a WebSocket closing handshake when the session ends, rather
    than a cut connection (the service may do so by default); it is always sent, as
    ``true`` or ``false``.
    """
    path = f"live/sessions/{quote(session_id, safe='')}/attach"
    query = {"graceful_close": "true" if graceful_close else "false"}
    return await connect_socket(socket_url(await base_url(), path, **query))
