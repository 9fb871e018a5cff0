"""WebRTC calls through a real server, as the page makes them: relay the offer (unified
flow: cookie and CSRF), hang up; and how many connections hear a call in the emulator."""

from __future__ import annotations

import httpx

from tests.support.servers import Server
from tests.support.webrtc_client import WebRTCClient


def listeners(emulator) -> int:
    """How many connections hear the emulator's WebRTC calls: each call's data channel and
    any sideband (one call at a time in these tests)."""
    sessions = emulator.state()["sessions"].values()
    return sum(session["outputs"] for session in sessions if session["transport"] == "webrtc")


async def page_session(browser: httpx.AsyncClient, server: Server) -> dict[str, str]:
    """Load the page, as a browser does first: the headers its posts then carry."""
    page = await browser.get(f"{server.url}/")
    return {"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{server.url}/"}


async def relay_call(server: Server, caller: WebRTCClient, user_agent: str | None = None) -> str:
    """Relay ``caller``'s offer through ``server``, connect it; the call's id."""
    headers = {"Content-Type": "application/sdp"}
    if user_agent is not None:
        headers["User-Agent"] = user_agent
    async with httpx.AsyncClient(timeout=30) as browser:
        answer = await browser.post(
            f"{server.url}/api/realtime/handshake",
            content=(await caller.offer()).encode(),
            headers={**await page_session(browser, server), **headers},
        )
    assert answer.status_code == 201, answer.text
    await caller.accept(answer.text)
    return answer.headers["X-Realtime-Call-Id"]


async def hang_up(server: Server, call_id: str) -> None:
    """Stop, as the page does: ``POST /api/realtime/hangup`` through ``server``."""
    async with httpx.AsyncClient(timeout=30) as browser:
        answer = await browser.post(
            f"{server.url}/api/realtime/hangup",
            json={"call_id": call_id},
            headers=await page_session(browser, server),
        )
    assert answer.status_code == 204, answer.text
