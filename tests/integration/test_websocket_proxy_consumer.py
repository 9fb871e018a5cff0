"""The proxy consumer in this process (Channels' WebsocketCommunicator) against the real
emulator: what a server cannot show from outside — that nothing outlives a session, and
that no frame a client can send makes the consumer crash."""

import asyncio
import json

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime import tokens
from realtime.conf import CLIENT_EVENT_TYPES
from realtime.errors import PROBLEMS
from realtime.models import RealtimeSession
from realtime.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
MAX_FRAME = 16 * 1024
# Every close the proxy may send: OpenAI's own, a normal close, and ours.
KNOWN_CLOSE_CODES = {1000, 3000, 4000} | {
    problem.close_code for problem in PROBLEMS.values() if problem.close_code
}


@pytest.fixture(autouse=True)
def proxy_settings(openai_emulator, settings):
    settings.REALTIME_RATE_LIMIT = 0
    settings.REALTIME_PROXY_MAX_FRAME_BYTES = MAX_FRAME
    settings.REALTIME_PROXY_MAX_MESSAGES_PER_SECOND = 100_000


def sdk_communicator() -> WebsocketCommunicator:
    token = tokens.issue(None, ttl=60).value
    return WebsocketCommunicator(
        application, "/v1/realtime", headers=[(b"authorization", f"Bearer {token}".encode())]
    )


async def receive_until(communicator: WebsocketCommunicator, event_type: str) -> list[dict]:
    seen = []
    while True:
        event = await communicator.receive_json_from(timeout=10)
        seen.append(event)
        if event["type"] == event_type:
            return seen


def other_tasks() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_no_task_or_socket_outlives_a_session_the_client_closes(emulator):
    before = other_tasks()
    communicator = sdk_communicator()

    connected, _ = await communicator.connect()
    await receive_until(communicator, "session.updated")
    assert len(other_tasks() - before) > 1  # the pump, the clock, the upstream socket's own
    await communicator.disconnect()

    await asyncio.sleep(0)  # let finished tasks run their done-callbacks
    assert connected
    assert other_tasks() - before == set()
    assert emulator.state()["sessions"] == {}
    session = await RealtimeSession.objects.aget()
    assert session.ended_at is not None
    assert session.upstream_close_code == 1000


async def test_no_task_or_socket_outlives_a_session_the_upstream_breaks(emulator):
    emulator.fault("realtime", drop_after_events=2)
    before = other_tasks()
    communicator = sdk_communicator()

    await communicator.connect()
    error = (await receive_until(communicator, "error"))[-1]
    closed = await communicator.receive_output(timeout=5)
    await communicator.disconnect()

    await asyncio.sleep(0)
    assert error["error"]["code"] == "upstream_connection_lost"
    assert (closed["type"], closed["code"]) == ("websocket.close", 4502)
    assert other_tasks() - before == set()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
events = st.fixed_dictionaries(
    {"type": st.sampled_from([*CLIENT_EVENT_TYPES, "session.delete", "", "error"])},
    optional={
        "event_id": json_values,
        "session": json_values,
        "response": json_values,
        "item": json_values,
        "audio": st.text(max_size=50),
    },
).map(json.dumps)
hostile_frames = st.one_of(
    events,
    st.fixed_dictionaries({"type": json_values}).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.integers(MAX_FRAME + 1, MAX_FRAME * 4).map(lambda size: '{"type":"x","a":"' + "A" * size),
    st.just('{"type":"input_audio_buffer.append","type":"session.update"}'),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(hostile_frames, min_size=1, max_size=6))
def test_hostile_frames_get_an_error_event_or_a_clean_close_never_a_crash(frames):
    asyncio.run(_send_hostile_frames(frames))


async def _send_hostile_frames(frames: list[str | bytes]) -> None:
    communicator = sdk_communicator()
    connected, _ = await communicator.connect()
    assert connected
    await receive_until(communicator, "session.updated")
    for frame in frames:  # sent raw: send_to() refuses empty frames, a client may not
        kind = "bytes" if isinstance(frame, bytes) else "text"
        await communicator.send_input({"type": "websocket.receive", kind: frame})
    # A marker event: the session must still answer it, unless a frame closed it cleanly.
    await communicator.send_json_to({"type": "input_audio_buffer.clear", "event_id": "marker"})
    outcome = None
    while outcome is None:
        message = await communicator.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            outcome = message
        elif json.loads(message["text"])["type"] == "input_audio_buffer.cleared":
            outcome = "answered"
    await communicator.disconnect()  # raises if the consumer crashed
    if outcome != "answered":
        assert outcome["code"] in KNOWN_CLOSE_CODES
        assert outcome["code"] != 1011
