"""WebRTC calls to the emulator: a real aiortc peer, the oai-events channel, audio both ways,
and a sideband WebSocket on the same session."""

import httpx
import pytest

from realtime.emulator import audio
from tests.support.realtime_client import connect, silence
from tests.support.webrtc_client import WebRTCClient

KEY = "sk-test-emulator-key"


@pytest.fixture
async def call(emulator):
    """A connected call made as the browser SDK makes one: mint, then post the offer."""
    client = WebRTCClient()
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=15) as api:
        minted = await api.post(
            "/realtime/client_secrets", json={}, headers={"Authorization": f"Bearer {KEY}"}
        )
        answer = await api.post(
            "/realtime/calls",
            content=await client.offer(),
            headers={
                "Authorization": f"Bearer {minted.json()['value']}",
                "Content-Type": "application/sdp",
            },
        )
    assert answer.status_code == 201, answer.text
    client.call_id = answer.headers["location"].rsplit("/", 1)[1]
    await client.accept(answer.text)
    yield client
    await client.close()


def types(events):
    return [event["type"] for event in events]


async def test_the_channel_opens_with_session_created(call):
    first = await call.events.get()

    assert first["type"] == "session.created"
    assert first["session"]["type"] == "realtime"


async def test_an_aiortc_call_pairs_on_loopback_without_stun(call):
    pair = call.selected_pair()

    assert (pair.local_candidate.host, pair.remote_candidate.host) == ("127.0.0.1", "127.0.0.1")
    assert (call.ice.stun_server, call.ice.turn_server) == (None, None)
    gathered = call.ice.local_candidates + call.ice.remote_candidates  # ours and the emulator's
    assert {candidate.type for candidate in gathered} == {"host"}  # nothing server-reflexive
    assert {candidate.host for candidate in gathered} == {"127.0.0.1"}


async def test_speech_on_the_microphone_gets_a_spoken_answer_on_the_track(call):
    await call.until("session.created")
    call.microphone.say(silence(200) + audio.synthesize_speech("hello there friend"))

    events = await call.until("output_audio_buffer.stopped")

    assert "input_audio_buffer.speech_started" in types(events)
    assert "output_audio_buffer.started" in types(events)
    assert "response.output_audio.delta" not in types(events)
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
        "transcript"
    ]
    assert transcript.startswith("I heard ")
    assert audio.level(bytes(call.heard)) > 0.01


async def test_speech_during_playback_clears_the_output_buffer(call):
    await call.until("session.created")
    call.microphone.say(silence(200) + audio.synthesize_speech("tell me a long story"))
    await call.until("output_audio_buffer.started")

    call.microphone.say(audio.synthesize_speech("stop stop stop"))
    events = await call.until("output_audio_buffer.cleared")

    assert "input_audio_buffer.speech_started" in types(events)


async def test_a_sideband_socket_sees_the_calls_events_and_can_update_it(call, emulator):
    await call.until("session.created")
    url = f"{emulator.websocket_url}/realtime?call_id={call.call_id}"
    async with connect(url, key=KEY) as sideband:
        created = await sideband.next()
        await sideband.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "From the side."},
            }
        )
        seen_by_sideband = await sideband.until("session.updated")
        seen_by_channel = await call.until("session.updated")

    assert created["type"] == "session.created"
    assert seen_by_sideband[-1]["session"]["instructions"] == "From the side."
    assert seen_by_channel[-1]["session"]["instructions"] == "From the side."


async def test_a_sideband_needs_the_server_key(call, emulator):
    async with httpx.AsyncClient(base_url=emulator.base_url) as api:
        minted = await api.post(
            "/realtime/client_secrets", json={}, headers={"Authorization": f"Bearer {KEY}"}
        )
    url = f"{emulator.websocket_url}/realtime?call_id={call.call_id}"
    async with connect(url, key=minted.json()["value"]) as sideband:
        event = await sideband.next()

    assert event["error"]["code"] == "invalid_api_key"


async def test_hangup_closes_the_channel_and_the_sideband(call, emulator):
    await call.until("session.created")
    url = f"{emulator.websocket_url}/realtime?call_id={call.call_id}"
    async with connect(url, key=KEY) as sideband:
        await sideband.next()
        async with httpx.AsyncClient(base_url=emulator.base_url) as api:
            hung_up = await api.post(
                f"/realtime/calls/{call.call_id}/hangup", headers={"Authorization": f"Bearer {KEY}"}
            )
        import asyncio

        await asyncio.wait_for(call.channel_closed.wait(), 10)
        import websockets

        with pytest.raises(websockets.ConnectionClosed):
            await sideband.next()

    assert hung_up.status_code == 200
    assert call.call_id not in emulator.state()["calls"]
