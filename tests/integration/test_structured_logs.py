"""LOG_FORMAT=json under a real server: every log line of ours is one JSON object, and the
relay's, the proxy's, the sideband's and a tool's lines name their request, session and
user, with the outcome and durations as keys."""

from __future__ import annotations

import json
import re

import httpx
from django.test import override_settings

from realtime import tokens
from tests.support.polling import eventually, wait_for
from tests.support.realtime_client import connect
from tests.support.servers import SERVER_SECRET_KEY, Server
from tests.support.webrtc_client import WebRTCClient

# daphne writes its access log itself, past the logging system: "127.0.0.1:5000 - - [...]".
ACCESS_LOG = re.compile(r"^\S+:\d+ - - \[")
REQUEST_ID = "client-chosen-request-0001"


def records(server: Server) -> list[dict]:
    """Every line the server wrote but its access log, each parsed as JSON."""
    return [json.loads(line) for line in server.lines if line and not ACCESS_LOG.match(line)]


def the(server: Server, **fields) -> dict:
    """The one record whose fields are these (waiting for it: sessions end just after)."""

    def found() -> list[dict]:
        return [
            record
            for record in records(server)
            if all(record.get(name) == value for name, value in fields.items())
        ]

    [record] = wait_for(found, 10, what=f"a log record with {fields}")
    return record


async def test_json_logs_name_the_request_the_session_and_their_outcome(start_daphne, emulator):
    server = start_daphne(
        LOG_FORMAT="json",
        REALTIME_RATE_LIMIT="0",
        REALTIME_SERVER_TOOLS="tests.support.tools.lookup_order",
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as browser:
        page = await browser.get("/")
        csrf = {"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{server.url}/"}
        minted = await browser.post(
            "/api/realtime/client-secret", headers={**csrf, "X-Request-ID": REQUEST_ID}
        )
        caller = WebRTCClient()
        try:
            answer = await browser.post(
                "/api/realtime/handshake",
                content=(await caller.offer()).encode(),
                headers={**csrf, "Content-Type": "application/sdp"},
            )
            await caller.accept(answer.text)
            call_id = answer.headers["X-Realtime-Call-Id"]
            await eventually(
                lambda: any(s["outputs"] == 2 for s in emulator.state()["sessions"].values()),
                10,
                what="the sideband to attach",
            )
            hung_up = await browser.post(
                "/api/realtime/hangup", json={"call_id": call_id}, headers=csrf
            )
        finally:
            await caller.close()
    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        token = tokens.issue(None, 60).value
    async with connect(f"{server.websocket_url}/v1/realtime", key=token) as client:
        await client.until("session.updated")
        await client.ask("lookup_order 42")
        await client.until("response.done")  # the call
        await client.until("response.done")  # the answer with the tool's result

    assert minted.headers["X-Request-ID"] == REQUEST_ID
    assert hung_up.status_code == 204
    assert all(
        record["logger"] and record["level"] and record["time"] for record in records(server)
    )
    mint = the(server, kind="client_secret")
    assert (mint["request_id"], mint["outcome"], mint["http_status"]) == (REQUEST_ID, "ok", 200)
    assert mint["total_ms"] >= mint["upstream_ms"] > 0
    assert mint["message"].startswith("realtime client_secret ok")

    call = the(server, kind="call")
    assert (call["call_id"], call["transport"], call["outcome"]) == (call_id, "webrtc", "ok")
    assert call["request_id"] not in (REQUEST_ID, mint["request_id"])  # its own, made here
    assert call["session_id"]
    webrtc_end = the(server, message=f"realtime session {call['session_id']} ended: hangup")
    assert (webrtc_end["transport"], webrtc_end["call_id"]) == ("webrtc", call_id)
    assert webrtc_end["duration_s"] > 0

    tool = the(server, tool="lookup_order")
    assert (tool["outcome"], tool["transport"]) == ("completed", "websocket")
    assert tool["duration_ms"] >= 0
    assert tool["session_id"]
    proxied_end = the(server, message=f"realtime session {tool['session_id']} ended: client_closed")
    assert proxied_end["transport"] == "websocket"
    assert (proxied_end["turns"], proxied_end["duration_s"] > 0) == (1, True)
    assert proxied_end["request_id"] == tool["request_id"]  # one connection, one request id
