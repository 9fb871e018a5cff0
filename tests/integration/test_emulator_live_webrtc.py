"""GPT-Live over WebRTC, driven by the official SDK: ``client.live.create`` with an aiortc
offer made on loopback without ICE servers, the ``oai-events`` data channel, the call's
audio track, the session's REST actions and a sideband on the call."""

import asyncio
import base64

import openai
import pytest

from realtime.emulator import audio
from tests.support.live import client_for, transcript, until, utterance
from tests.support.polling import eventually
from tests.support.webrtc_client import WebRTCClient


async def create_call(emulator, **session) -> WebRTCClient:
    """A connected call: the offer posted with ``live.create``, the answer applied."""
    client = WebRTCClient()
    created = await client_for(emulator).live.create(
        session={"model": "gpt-live-1", **session},
        transport={"type": "webrtc", "sdp": await client.offer()},
    )
    client.session_id = created.session.id
    await client.accept(created.transport.sdp)
    return client


@pytest.fixture
async def call(emulator):
    client = await create_call(emulator)
    yield client
    await client.close()


@pytest.fixture
def live(emulator):
    return client_for(emulator).live


async def said(call: WebRTCClient, ending: str) -> list[dict]:
    """The channel's events until the model's output transcript ends with ``ending``."""
    events: list[dict] = []
    while not spoken(events).endswith(ending):
        events += await call.until("session.output_transcript.delta")
    return events


def spoken(events: list[dict]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "session.output_transcript.delta")


async def refused(create) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as error:
        await create
    return error.value


async def test_create_answers_201_with_a_live_session_and_an_sdp_answer(emulator, live):
    client = WebRTCClient()
    raw = await live.with_raw_response.create(
        session={"model": "gpt-live-1.1"},
        transport={"type": "webrtc", "sdp": await client.offer()},
    )
    await client.close()

    created = raw.parse()
    assert raw.status_code == 201
    assert created.session.id.startswith("live_")
    assert created.transport.type == "webrtc"
    assert created.transport.sdp.startswith("v=0")
    listed = emulator.state()["live_sessions"][created.session.id]
    assert (listed["transport"], listed["model"]) == ("webrtc", "gpt-live-1.1")


async def test_the_data_channel_opens_with_session_started(call):
    first = await call.events.get()

    assert first["type"] == "session.started"
    assert first["session"]["id"] == call.session_id
    assert "format" not in first["session"]["audio"]  # WebRTC negotiates its media
    assert "client_event_id" not in first


async def test_a_spoken_turn_over_webrtc_is_answered_on_the_track(call):
    await call.until("session.started")
    call.microphone.say(utterance())

    events = await said(call, "audio.")
    # The reply plays in real time on the call's track.
    await eventually(lambda: audio.level(bytes(call.heard)) > 0.01, what="the reply's audio")

    assert spoken(events).startswith("I heard ")
    assert "session.output_audio.delta" not in [event["type"] for event in events]


async def test_create_refuses_audio_format_over_webrtc(live):
    error = await refused(
        live.create(
            session={"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm"}}},
            transport={"type": "webrtc", "sdp": "v=0"},
        )
    )

    assert error.status_code == 400
    assert (error.code, error.param) == ("unknown_parameter", "session.audio.format")


async def test_create_refuses_unknown_fields(live):
    error = await refused(
        live.create(
            session={"model": "gpt-live-1", "voice": "marin"},
            transport={"type": "webrtc", "sdp": "v=0"},
        )
    )

    assert (error.code, error.param) == ("unknown_parameter", "session.voice")


async def test_create_refuses_an_unknown_top_level_field(live):
    error = await refused(
        live.create(
            session={"model": "gpt-live-1"},
            transport={"type": "webrtc", "sdp": "v=0"},
            extra_body={"model": "gpt-live-1"},
        )
    )

    assert (error.code, error.param) == ("unknown_parameter", "model")


async def test_create_requires_a_model(live):
    error = await refused(live.create(session={}, transport={"type": "webrtc", "sdp": "v=0"}))

    assert (error.code, error.param) == ("missing_required_parameter", "session.model")


@pytest.mark.parametrize(
    ("model", "code"),
    [("gpt-realtime-2.1", "invalid_model"), ("no-such-model", "model_not_found")],
)
async def test_create_refuses_models_that_are_not_live(live, model, code):
    error = await refused(
        live.create(session={"model": model}, transport={"type": "webrtc", "sdp": "v=0"})
    )

    assert (error.status_code, error.code, error.param) == (400, code, "session.model")


async def test_create_without_a_key_is_refused_with_401(emulator):
    error = await refused(
        client_for(emulator).live.create(
            session={"model": "gpt-live-1"},
            transport={"type": "webrtc", "sdp": "v=0"},
            extra_headers={"Authorization": openai.omit},
        )
    )

    assert isinstance(error, openai.AuthenticationError)
    assert error.code == "missing_authorization"


async def test_create_with_a_body_that_is_not_json_is_refused_with_400(emulator):
    error = await refused(
        client_for(emulator).post(
            "/live/sessions",
            cast_to=object,
            content=b'{"session": ',
            options={"headers": {"Content-Type": "application/json"}},
        )
    )

    assert error.status_code == 400
    assert "could not parse the JSON body" in error.message


async def test_an_injected_status_answers_the_create(emulator, live):
    emulator.fault("live_sessions", status=503)

    error = await refused(
        live.create(session={"model": "gpt-live-1"}, transport={"type": "webrtc", "sdp": "v=0"})
    )

    assert isinstance(error, openai.InternalServerError)
    assert error.status_code == 503


# --- ending -----------------------------------------------------------------------------------


async def test_hangup_ends_the_session_with_close_requested(call, emulator, live):
    await call.until("session.started")

    await live.sessions.hangup(call.session_id)
    closed = (await call.until("session.closed"))[-1]
    await asyncio.wait_for(call.channel_closed.wait(), 10)

    assert closed["reason"] == "close_requested"
    assert closed["usage"]["seconds"] >= 15  # a WebRTC create bills 15 s up front
    assert call.session_id not in emulator.state()["live_sessions"]


async def test_session_close_on_the_data_channel_ends_the_call(call, emulator):
    await call.until("session.started")

    call.send({"type": "session.close", "event_id": "bye"})
    closed = (await call.until("session.closed"))[-1]
    await asyncio.wait_for(call.channel_closed.wait(), 10)

    assert (closed["reason"], closed["client_event_id"]) == ("close_requested", "bye")
    await eventually(lambda: call.peer.connectionState == "closed", what="the call to end")
    assert call.session_id not in emulator.state()["live_sessions"]


async def test_hangup_of_an_unknown_session_is_404_with_the_error_envelope(live):
    error = await refused(live.sessions.hangup("live_unknown"))

    assert isinstance(error, openai.NotFoundError)
    assert error.body["code"] == "session_not_found"
    assert error.body["type"] == "invalid_request_error"


async def test_an_injected_status_answers_the_hangup(call, emulator, live):
    emulator.fault("live_hangup", status=500)

    error = await refused(live.sessions.hangup(call.session_id))

    assert error.status_code == 500
    assert call.session_id in emulator.state()["live_sessions"]


async def test_reject_ends_the_session(call, live):
    await call.until("session.started")

    await live.sessions.reject(call.session_id, status_code=486)
    closed = (await call.until("session.closed"))[-1]

    assert closed["reason"] == "close_requested"


async def test_refer_needs_a_target_uri(call, live):
    error = await refused(live.sessions.refer(call.session_id, target_uri=None))
    await live.sessions.refer(call.session_id, target_uri="tel:+15555550100")

    assert (error.code, error.param) == ("invalid_type", "target_uri")


async def test_accept_refuses_audio_format(call, live):
    error = await refused(
        live.sessions.accept(
            call.session_id,
            session={"type": "live", "model": "gpt-live-1", "audio": {"format": {}}},
        )
    )

    assert (error.code, error.param) == ("unknown_parameter", "session.audio.format")


async def test_the_client_leaving_is_a_remote_hangup_for_the_sideband(call, live):
    await call.until("session.started")
    async with live.sideband.connect(session_id=call.session_id) as side:
        await until(side, "session.started")
        await call.close()
        closed = (await until(side, "session.closed"))[-1]

    assert closed.reason == "remote_hangup"


# --- a sideband on the call -------------------------------------------------------------------


async def test_a_sideband_hears_the_calls_audio_and_timed_replies(call, live):
    await call.until("session.started")
    async with live.sideband.connect(session_id=call.session_id, graceful_close=True) as side:
        await until(side, "session.started")
        call.microphone.say(utterance())
        events = await until(side, "session.output_audio.delta")

    reflected = b"".join(
        base64.b64decode(e.audio) for e in events if e.type == "session.input_audio.append"
    )
    assert audio.level(reflected) > 0.01  # the microphone, as PCM16 24 kHz
    heard = transcript(events, "session.input_transcript.delta")
    assert heard.endswith("seconds of speech)")
    output = events[-1]
    assert output.end_ms - output.start_ms == 100
    heard_until = max(e.end_ms for e in events if e.type == "session.input_transcript.delta")
    assert output.start_ms >= heard_until + 500  # the model waits out 500 ms of silence


async def test_a_sideband_hears_the_data_channels_commands(call, live):
    await call.until("session.started")
    async with live.sideband.connect(session_id=call.session_id) as side:
        await until(side, "session.started")
        call.send({"type": "session.input_audio.mute", "event_id": "from-page"})
        muted = (await until(side, "session.input_audio.muted"))[-1]

    assert muted.client_event_id == "from-page"


async def test_data_channel_permissions_are_reported_and_enforced(emulator, live):
    permissions = {
        "allowed_client_events": ["session.input_audio.mute"],
        "allowed_server_events": [{"type": "session.started"}, {"type": "info"}],
    }
    call = await create_call(emulator, client={"data_channel": permissions})
    try:
        started = await call.events.get()
        info = await call.events.get()
        async with live.sideband.connect(session_id=call.session_id) as side:
            await until(side, "session.started")
            call.send({"type": "session.close", "event_id": "not-allowed"})
            error = (await until(side, "error"))[-1]
            call.send({"type": "session.input_audio.mute"})
            await until(side, "session.input_audio.muted")
    finally:
        await call.close()

    assert (started["type"], info["type"]) == ("session.started", "info")
    assert info["code"] == "data_channel_permissions"
    assert started["session"]["client"] == {"data_channel": permissions}
    assert (error.error.code, error.client_event_id) == ("invalid_value", "not-allowed")
    assert "Supported values are: 'session.input_audio.mute'." in error.error.message
    assert call.events.empty()  # neither the error nor the acknowledgement was allowed through
