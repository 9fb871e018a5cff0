"""GPT-Live calls through this server's relay, as the page makes them (cookie and CSRF):
relay an offer, hang up, and wait for what the emulator and the rows show."""

from __future__ import annotations

from typing import Any

from django.test import AsyncClient

from realtime.models import RealtimeSession
from tests.support.polling import eventually
from tests.support.webrtc_client import WebRTCClient

HANDSHAKE = "/api/live/handshake"
HANGUP = "/api/live/hangup"


async def post_offer(browser: AsyncClient, csrf_token: str, offer: bytes, **headers: str) -> Any:
    """Post an SDP offer to the Live handshake as the page does."""
    return await browser.post(
        HANDSHAKE,
        data=offer,
        content_type="application/sdp",
        headers={"X-CSRFToken": csrf_token, **headers},
    )


async def relay_call(browser: AsyncClient, csrf_token: str, caller: WebRTCClient) -> str:
    """Relay ``caller``'s offer, connect it; the Live session's id."""
    answer = await post_offer(browser, csrf_token, (await caller.offer()).encode())
    assert answer.status_code == 201, answer.content
    await caller.accept(answer.content.decode())
    return answer["X-Live-Session-Id"]


async def hang_up(browser: AsyncClient, csrf_token: str, body: Any) -> Any:
    return await browser.post(
        HANGUP, data=body, content_type="application/json", headers={"X-CSRFToken": csrf_token}
    )


def connections(emulator, session_id: str) -> list[str]:
    """The kinds of connection the emulator's Live session has (datachannel, sideband)."""
    session = emulator.state()["live_sessions"].get(session_id)
    return session["connections"] if session else []


async def sideband_attached(emulator, session_id: str) -> None:
    await eventually(
        lambda: "sideband" in connections(emulator, session_id),
        10,
        what=f"a sideband on {session_id}",
    )


async def ended(session_id: str) -> RealtimeSession:
    return await eventually(
        lambda: RealtimeSession.objects.filter(call_id=session_id, ended_at__isnull=False).afirst(),
        10,
        what=f"the row of {session_id} to end",
    )


async def said(caller: WebRTCClient, ending: str, seconds: float = 20) -> str:
    """What the model said on the data channel, once it ends with ``ending``."""
    spoken = ""
    while not spoken.endswith(ending):
        events = await caller.until("session.output_transcript.delta", seconds=seconds)
        spoken += events[-1]["delta"]
    return spoken
