"""GPT-Live over the emulator's WebSockets, driven by the official SDK: ``client.live.connect``
(the primary socket) and ``client.live.sideband.connect`` (``…/{id}/attach``).

The emulator validates every Live event it sends strictly by the SDK's types
(``--check-events``); the ``emulator_judge`` fixture fails a test on any rejection.
"""

import asyncio
import base64
import json
import re

import pytest
import websockets

from realtime.emulator import audio
from realtime.emulator.testing import EmulatorProcess
from tests.support.live import (
    RESPONSES,
    client_for,
    nested,
    started,
    stream,
    transcript,
    types,
    until,
    utterance,
)
from tests.support.realtime_client import silence


@pytest.fixture
def live(emulator):
    """The SDK's Live resource, pointed at the emulator."""
    return client_for(emulator).live


@pytest.fixture(scope="module")
def brisk_emulator():
    """An emulator whose Live sessions report usage every 0.2 s and expire after 2 s."""
    process = EmulatorProcess(
        "--check-events", "--pace", "4", "--live-usage-seconds", "0.2", "--session-seconds", "2"
    ).start()
    yield process
    process.stop()


@pytest.fixture
def brisk(brisk_emulator):
    brisk_emulator.reset()
    yield brisk_emulator
    assert brisk_emulator.invalid_events() == []


# --- starting ---------------------------------------------------------------------------------


async def test_session_start_is_answered_with_the_resolved_session(live):
    async with live.connect() as connection:
        event = await started(connection)

    session = event.session
    assert event.client_event_id == "start"
    assert re.fullmatch(r"live_[A-Za-z0-9]{21}", session.id)
    assert isinstance(session.expires_at, int)
    assert (session.model, session.status) == ("gpt-live-1", "active")
    assert session.audio.output.voice == "marin"
    assert session.audio.format.type == "audio/pcm"
    assert session.audio.format.rate == 24000
    assert session.delegation.type == "client"


async def test_the_first_event_must_be_session_start(live):
    async with live.connect() as connection:
        await connection.session.input_audio.mute(event_id="early")
        error = (await until(connection, "error"))[-1]
        with pytest.raises(websockets.ConnectionClosed):
            await connection.recv()

    assert error.error.code == "session_not_started"
    assert error.client_event_id == error.error.client_event_id == "early"


async def test_session_start_refuses_an_unknown_field(live):
    async with live.connect() as connection:
        await connection.session.start(
            session={"model": "gpt-live-1", "voice": "marin"}, event_id="c7"
        )
        error = (await until(connection, "error"))[-1]

    assert (error.error.code, error.error.param) == ("unknown_parameter", "session.voice")
    assert error.error.type == "invalid_request_error"
    assert error.error.client_event_id == "c7"


@pytest.mark.parametrize(
    ("model", "code"),
    [("gpt-realtime-2.1", "invalid_model"), ("gpt-live-9", "model_not_found")],
)
async def test_session_start_refuses_models_that_are_not_live(live, model, code):
    async with live.connect() as connection:
        await connection.session.start(session={"model": model})
        error = (await until(connection, "error"))[-1]

    assert (error.error.code, error.error.param) == (code, "session.model")


async def test_a_wrong_key_is_refused_at_the_handshake(emulator):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with client_for(emulator, key="not-a-key").live.connect():
            pass

    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["error"]["code"] == "invalid_api_key"


# --- a spoken turn ----------------------------------------------------------------------------


async def test_a_spoken_turn_is_transcribed_and_answered_with_speech(live):
    async with live.connect() as connection:
        await started(connection)
        await stream(connection, utterance())
        events = await until(connection, "session.output_transcript.delta", delta=" audio.")
        events += await until(connection, "session.output_audio.delta")

    heard = transcript(events, "session.input_transcript.delta")
    said = transcript(events, "session.output_transcript.delta")
    seconds = re.fullmatch(r"\((\d\.\d) seconds of speech\)", heard)[1]
    assert said == f"I heard {seconds} seconds of audio."
    spoken = [event for event in events if event.type == "session.output_transcript.delta"]
    assert all(isinstance(event.start_ms, int) for event in spoken)
    assert spoken[0].start_ms >= 200 + float(seconds) * 1000  # after the utterance ends
    reply = b"".join(
        base64.b64decode(event.delta)
        for event in events
        if event.type == "session.output_audio.delta"
    )
    assert audio.level(reply) > 0.05


async def test_the_primary_socket_hears_output_audio_without_timestamps(live):
    async with live.connect() as connection:
        await started(connection)
        await stream(connection, utterance())
        await until(connection, "session.output_audio.delta")
        raw = json.loads(await connection.recv_bytes())

    assert raw["type"] == "session.output_audio.delta"
    assert set(raw) == {"type", "delta"}


async def test_a_16_khz_session_takes_and_speaks_16_khz_audio(live):
    at_16_khz = {"format": {"type": "audio/pcm", "rate": 16000}}
    speech_16k = audio.from_internal(utterance(), at_16_khz["format"])
    async with live.connect() as connection:
        await started(connection, audio=at_16_khz)
        await stream(connection, speech_16k, chunk=640)
        events = await until(connection, "session.output_transcript.delta", delta=" audio.")

    said = transcript(events, "session.output_transcript.delta")
    assert said == "I heard 1.2 seconds of audio."
    first_chunk = next(e for e in events if e.type == "session.output_audio.delta")
    assert len(base64.b64decode(first_chunk.delta)) == 100 * 32  # 100 ms of PCM16 at 16 kHz


async def test_muted_input_is_not_heard_until_unmuted(live):
    async with live.connect() as connection:
        await started(connection)
        await connection.session.input_audio.mute(event_id="m1")
        muted = (await until(connection, "session.input_audio.muted"))[-1]
        await stream(connection, utterance())
        with pytest.raises(TimeoutError):
            await until(connection, "session.input_transcript.delta", seconds=1)
        await connection.session.input_audio.unmute()
        await until(connection, "session.input_audio.unmuted")
        await stream(connection, utterance())
        heard = await until(connection, "session.input_transcript.delta")

    assert muted.client_event_id == "m1"
    assert heard[-1].delta.startswith("(")


async def test_an_audio_fixture_plays_between_its_acknowledgements(live):
    fixture = audio.synthesize_speech("this is a recording")
    async with live.connect() as connection:
        await started(connection)
        await connection.session.output_audio.fixture.play(
            audio=base64.b64encode(fixture).decode(), event_id="f1"
        )
        events = await until(connection, "session.output_audio.fixture.played")

    playing, played = events[0], events[-1]
    assert (playing.type, playing.client_event_id) == ("session.output_audio.fixture.playing", "f1")
    assert played.client_event_id == "f1"
    played_audio = b"".join(base64.b64decode(event.delta) for event in events[1:-1])
    assert played_audio == fixture


async def test_appended_context_is_acknowledged_at_the_timeline_position(live):
    async with live.connect() as connection:
        await started(connection)
        await stream(connection, silence(500))
        await connection.session.instructions.append(
            content="Speak briefly.", delegation_id=None, event_id="i1"
        )
        appended = (await until(connection, "session.instructions.appended"))[-1]

    assert (appended.start_ms, appended.end_ms) == (500, 500)
    assert appended.client_event_id == "i1"


async def test_instructions_appended_without_a_delegation_are_answered_as_a_turn(live):
    async with live.connect() as connection:
        await started(connection)
        await stream(connection, silence(200))
        await connection.session.instructions.append(
            content='The user typed: "hello"', delegation_id=None
        )
        events = await until(connection, "session.output_transcript.delta", delta=' "hello"".')

    assert "session.instructions.appended" in types(events)
    assert "session.input_transcript.delta" not in types(events)  # typed, not heard
    said = transcript(events, "session.output_transcript.delta")
    assert said == 'You said: "The user typed: "hello"".'


async def test_appended_instructions_naming_a_backend_tool_are_delegated(live):
    async with live.connect() as connection:
        await started(connection, delegation=RESPONSES)
        await connection.session.instructions.append(
            content="get_weather in Paris", delegation_id=None
        )
        events = await until(connection, "session.delegation.created")
        while not nested(events, "response.output_item.done"):
            events += await until(connection, "response.event")

    delegation = next(e for e in events if e.type == "session.delegation.created").delegation
    assert delegation.target == "responses"
    assert nested(events, "response.output_item.done")[0]["item"]["name"] == "get_weather"


async def test_session_close_ends_with_session_closed_and_final_usage(live):
    async with live.connect() as connection:
        await started(connection)
        await stream(connection, silence(1000))
        await connection.session.close(event_id="bye")
        closed = (await until(connection, "session.closed"))[-1]
        with pytest.raises(websockets.ConnectionClosedOK):
            await connection.recv()

    assert (closed.reason, closed.client_event_id) == ("close_requested", "bye")
    assert closed.usage.seconds >= 1
    assert closed.usage.active_seconds == closed.usage.seconds
    assert closed.session.status == "active"


async def test_an_unknown_event_is_answered_with_the_valid_ones(live):
    async with live.connect() as connection:
        await started(connection)
        await connection.send({"type": "input_audio_buffer.commit", "event_id": "e9"})
        error = (await until(connection, "error"))[-1]

    assert (error.error.code, error.error.param) == ("invalid_value", "type")
    assert "'session.input_audio.append'" in error.error.message
    assert "'response.create'" in error.error.message
    assert error.client_event_id == "e9"


# --- updates and delegation -------------------------------------------------------------------


async def test_session_update_refuses_locked_fields(live):
    async with live.connect() as connection:
        await started(connection)
        await connection.send(
            {"type": "session.update", "session": {"instructions": "Be terse."}, "event_id": "u1"}
        )
        error = (await until(connection, "error"))[-1]

    assert (error.error.code, error.error.param) == ("unknown_parameter", "session.instructions")
    assert error.error.client_event_id == "u1"


async def test_session_update_changes_the_backend_but_not_the_delegation_type(live):
    async with live.connect() as connection:
        await started(connection, delegation=RESPONSES)
        await connection.session.update(
            session={"delegation": {"type": "responses", "responses": {"tools": []}}}
        )
        updated = (await until(connection, "session.updated"))[-1]
        await connection.session.update(session={"delegation": {"type": "client"}})
        error = (await until(connection, "error"))[-1]

    assert updated.session.delegation.responses.tools == []
    assert updated.session.delegation.responses.model == "gpt-5.2"
    assert (error.error.code, error.error.param) == ("invalid_value", "session.delegation.type")


async def test_response_commands_need_responses_delegation(live):
    async with live.connect() as connection:
        await started(connection)
        await connection.response.create(event_id="r1")
        error = (await until(connection, "error"))[-1]

    assert error.error.type == "invalid_request_error"
    assert "requires Responses delegation" in error.error.message
    assert error.client_event_id == error.error.client_event_id == "r1"


async def test_a_text_naming_a_backend_tool_gets_a_function_call(live):
    async with live.connect() as connection:
        await started(connection, delegation=RESPONSES)
        await connection.response.item.create(
            item={"type": "message", "role": "user", "content": "get_weather in Paris"}
        )
        await connection.response.create()
        events = await until(connection, "response.event", seconds=10)
        while events[-1].event["type"] != "response.completed":
            events += await until(connection, "response.event")

    (call,) = [done["item"] for done in nested(events, "response.output_item.done")]
    assert (call["type"], call["name"]) == ("function_call", "get_weather")
    assert json.loads(call["arguments"]) == {"city": "in Paris"}
    sequence = [
        event.event["sequence_number"] for event in events if event.type == "response.event"
    ]
    assert sequence == list(range(len(sequence)))
    assert nested(events, "response.completed")[0]["response"]["usage"]["total_tokens"] > 0


async def test_a_function_call_output_is_answered_and_spoken(live):
    async with live.connect() as connection:
        await started(connection, delegation=RESPONSES)
        await connection.response.item.create(
            item={"type": "message", "role": "user", "content": "get_weather in Paris"}
        )
        await connection.response.create()
        events = await until(connection, "response.event", seconds=10)
        while not nested(events, "response.output_item.done"):
            events += await until(connection, "response.event")
        call_id = nested(events, "response.output_item.done")[0]["item"]["call_id"]
        await connection.response.item.create(
            item={"type": "function_call_output", "call_id": call_id, "output": "sunny"}
        )
        await connection.response.create(event_id="more")
        answered = await until(connection, "session.output_transcript.delta", delta=" sunny.")

    (text,) = [done["text"] for done in nested(answered, "response.output_text.done")]
    assert text == "The get_weather tool returned: sunny."
    assert transcript(answered, "session.output_transcript.delta") == text


async def test_a_heard_request_naming_a_tool_is_delegated_to_the_backend(live, emulator):
    async with live.connect() as connection:
        session_id = (await started(connection, delegation=RESPONSES)).session.id
        emulator.hear("get_weather for Oslo please", session_id=session_id)
        await stream(connection, utterance())
        events = await until(connection, "session.delegation.created")
        while not nested(events, "response.output_item.done"):
            events += await until(connection, "response.event")

    delegation = next(e for e in events if e.type == "session.delegation.created").delegation
    assert delegation.target == "responses"
    assert transcript(events, "session.input_transcript.delta") == "get_weather for Oslo please"
    frames = [event for event in events if event.type == "response.event"]
    assert {frame.delegation_id for frame in frames} == {delegation.id}
    assert nested(events, "response.created")[0]["response"]["id"] == delegation.response_id
    assert nested(events, "response.output_item.done")[0]["item"]["name"] == "get_weather"


async def test_a_heard_question_is_delegated_to_the_client_and_its_commentary_spoken(
    live, emulator
):
    async with live.connect() as connection:
        await started(connection)
        emulator.hear("What is on my calendar?")
        await stream(connection, utterance())
        created = (await until(connection, "session.delegation.created"))[-1]
        delegation_id = created.delegation.id
        await connection.session.thinking.append(
            content="Reading the calendar.", delegation_id=delegation_id
        )
        await until(connection, "session.thinking.appended")
        await connection.session.commentary.append(
            content="You have two meetings today.", delegation_id=delegation_id
        )
        events = await until(connection, "session.output_transcript.delta", delta=" today.")

    assert created.delegation.target == "client"
    assert created.offset_ms > 0
    assert "session.commentary.appended" in types(events)
    assert transcript(events, "session.output_transcript.delta") == "You have two meetings today."


# --- usage and the end ------------------------------------------------------------------------


async def test_usage_is_reported_periodically_and_cumulatively(brisk):
    async with client_for(brisk).live.connect() as connection:
        await started(connection)
        first = (await until(connection, "session.usage.updated", seconds=2))[-1]
        second = (await until(connection, "session.usage.updated", seconds=2))[-1]
        third = (await until(connection, "session.usage.updated", seconds=2))[-1]

    readings = [event.usage.seconds for event in (first, second, third)]
    assert readings == sorted(readings)
    assert readings[0] >= 1


async def test_a_session_expires_with_reason_expired(brisk):
    async with client_for(brisk).live.connect() as connection:
        await started(connection)
        closed = (await until(connection, "session.closed", seconds=5))[-1]

    assert closed.reason == "expired"
    assert closed.usage.seconds >= 1


# --- sidebands --------------------------------------------------------------------------------


async def test_a_sideband_hears_the_primary_audio_and_timed_replies(live):
    async with live.connect() as connection:
        session_id = (await started(connection)).session.id
        async with live.sideband.connect(session_id=session_id, graceful_close=True) as side:
            greeting = (await until(side, "session.started"))[-1]
            await stream(connection, utterance())
            events = await until(side, "session.output_audio.delta")

    reflected = b"".join(
        base64.b64decode(event.audio)
        for event in events
        if event.type == "session.input_audio.append"
    )
    assert greeting.session.id == session_id
    # The reply starts 500 ms into the trailing silence, before the rest is reflected.
    assert utterance().startswith(reflected)
    assert len(reflected) >= len(utterance()) - len(silence(300))
    delta = events[-1]
    assert isinstance(delta.start_ms, int)
    assert delta.end_ms - delta.start_ms == 100
    assert "session.input_transcript.delta" in types(events)


async def test_a_sideband_may_not_start_a_session_or_append_audio(live):
    async with live.connect() as connection:
        session_id = (await started(connection)).session.id
        async with live.sideband.connect(session_id=session_id) as side:
            await side.send({"type": "session.input_audio.append", "audio": "", "event_id": "s1"})
            error = (await until(side, "error"))[-1]

    assert (error.error.code, error.error.param) == ("invalid_value", "type")
    assert "'session.start'" not in error.error.message
    assert "'transport.dtmf.send'" in error.error.message


async def test_a_sideband_may_close_the_session_for_everyone(live):
    async with live.connect() as connection:
        session_id = (await started(connection)).session.id
        async with live.sideband.connect(session_id=session_id) as side:
            await side.session.close(event_id="from-side")
            seen_by_side = (await until(side, "session.closed"))[-1]
        seen_by_primary = (await until(connection, "session.closed"))[-1]

    assert seen_by_side.reason == seen_by_primary.reason == "close_requested"
    assert seen_by_primary.client_event_id == "from-side"


async def test_losing_the_primary_socket_ends_the_session_for_its_sidebands(live):
    connection = await live.connect().enter()
    session_id = (await started(connection)).session.id
    async with live.sideband.connect(session_id=session_id) as side:
        await until(side, "session.started")
        await connection.close()
        closed = (await until(side, "session.closed"))[-1]

    assert closed.reason == "connection_lost"


async def test_a_sideband_to_an_unknown_session_is_refused_with_404(live):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with live.sideband.connect(session_id="live_unknown"):
            pass

    assert refused.value.response.status_code == 404
    assert json.loads(refused.value.response.body)["error"]["code"] == "session_not_found"


# --- faults and the control API ---------------------------------------------------------------


async def test_an_injected_never_open_leaves_the_live_handshake_pending(live, emulator):
    emulator.fault("live", never_open=True)

    async def open_socket() -> None:
        async with live.connect():
            pass

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(open_socket(), 1)


async def test_an_injected_drop_breaks_the_live_socket_after_n_events(live, emulator):
    emulator.fault("live", drop_after_events=1)

    async with live.connect() as connection:
        await started(connection)
        with pytest.raises(websockets.ConnectionClosedError) as dropped:
            await connection.recv()

    assert dropped.value.rcvd.code == 1011


async def test_an_injected_status_refuses_the_live_handshake(live, emulator):
    emulator.fault("live", status=503)

    with pytest.raises(websockets.InvalidStatus) as refused:
        async with live.connect():
            pass

    assert refused.value.response.status_code == 503


async def test_an_injected_drop_breaks_a_sideband_but_not_its_session(live, emulator):
    emulator.fault("live_sideband", drop_after_events=1)

    async with live.connect() as connection:
        session_id = (await started(connection)).session.id
        async with live.sideband.connect(session_id=session_id) as side:
            await until(side, "session.started")
            with pytest.raises(websockets.ConnectionClosedError):
                await side.recv()
        await connection.session.input_audio.mute()
        muted = await until(connection, "session.input_audio.muted")

    assert "session.closed" not in types(muted)


async def test_live_client_events_are_recorded_with_audio_elided(live, emulator):
    async with live.connect() as connection:
        session_id = (await started(connection)).session.id
        await stream(connection, silence(40))
        await connection.session.input_audio.mute()
        await until(connection, "session.input_audio.muted")

    recorded = [
        record["event"]
        for record in emulator.received()
        if record["kind"] == "event" and record["session_id"] == session_id
    ]
    assert types_of(recorded) == [
        "session.start",
        "session.input_audio.append",
        "session.input_audio.append",
        "session.input_audio.mute",
    ]
    assert recorded[1]["audio"].endswith("base64 characters>")


async def test_the_state_lists_live_sessions_and_reset_ends_them(live, emulator):
    async with live.connect() as connection:
        session_id = (await started(connection)).session.id
        await stream(connection, utterance())
        await until(connection, "session.output_transcript.delta")
        listed = emulator.state()["live_sessions"][session_id]
        emulator.reset()
        code = await closed_with(connection)

    assert code == 1001  # going away: no session.closed, finalisation unconfirmed
    assert listed["transport"] == "websocket"
    assert listed["audio_received_ms"] == audio.duration_ms(utterance())
    assert listed["turns"] == 1
    assert emulator.state()["live_sessions"] == {}


def types_of(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


async def closed_with(connection) -> int:
    """Read whatever is left until the server closes; its close code."""
    async with asyncio.timeout(10):
        while True:
            try:
                event = await connection.recv()
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code
            assert event.type != "session.closed"
