"""Answer the control API under ``/_emulator``: what tests read of the emulator and set on it."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from realtime.emulator.http import Request, Response
from realtime.emulator.state import Emulator, Fault

if TYPE_CHECKING:
    from realtime.emulator.app import EmulatorApp


async def control(app: EmulatorApp, request: Request) -> Response:
    emulator = app.emulator
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
        await app.shutdown()  # each test starts with no calls or sessions left over
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
    if route == ("POST", "/_emulator/live/hear"):
        return _hear(emulator, request)
    if request.method == "POST" and request.path.startswith("/_emulator/secrets/"):
        value = request.path.removeprefix("/_emulator/secrets/").removesuffix("/expire")
        if value not in emulator.secrets:
            return Response(404, {"error": "no such secret"})
        emulator.secrets[value].expires_at = 0
        return Response(204)
    return Response(404, {"error": f"no control endpoint {request.method} {request.path}"})


def _hear(emulator: Emulator, request: Request) -> Response:
    """Say what the next utterance of a Live session (``session_id``, else any) is heard as."""
    try:
        body = json.loads(request.body)
    except ValueError as error:
        return Response(400, {"error": str(error)})
    if not isinstance(body, dict):
        return Response(400, {"error": "expected an object with text and session_id"})
    text, session_id = body.get("text"), body.get("session_id")
    if not isinstance(text, str) or not text.strip():
        return Response(400, {"error": "text must be a non-empty string"})
    if session_id is None:
        emulator.live_heard.append(text)
    elif session_id in emulator.live_sessions:
        emulator.live_sessions[session_id].heard.append(text)
    else:
        return Response(404, {"error": f"no live session {session_id}"})
    return Response(204)
