"""Answer the control API under ``/_emulator``: what tests read of the emulator and set on it."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from realtime.emulator.http import Request, Response
from realtime.emulator.state import Fault

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
    if request.method == "POST" and request.path.startswith("/_emulator/secrets/"):
        value = request.path.removeprefix("/_emulator/secrets/").removesuffix("/expire")
        if value not in emulator.secrets:
            return Response(404, {"error": "no such secret"})
        emulator.secrets[value].expires_at = 0
        return Response(204)
    return Response(404, {"error": f"no control endpoint {request.method} {request.path}"})
