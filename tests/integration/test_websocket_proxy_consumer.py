"""The proxy consumer in this process (Channels' WebsocketCommunicator) against the real
emulator: what a server cannot show from outside — that nothing outlives a session, that
no frame a client can send makes the consumer crash, that whatever fails (or cancels it)
the open-session slot comes back and the row ends, and how a drain ends a session."""

import asyncio
import contextlib
import json

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime import drain, policy, ratelimit, tokens, upstream
from realtime.consumers import RealtimeProxyConsumer
from realtime.errors import PROBLEMS
from realtime.models import RealtimeSession, UpstreamExchange
from realtime.proxy_session import ProxySession
from realtime.routing import websocket_urlpatterns
from tests.support import strategies

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


json_values = strategies.json_values()
events = strategies.client_events(json_values)
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


# --- whatever goes wrong, the slot comes back and the row ends ------------------------------


async def test_a_client_that_leaves_at_its_first_event_still_leaves_its_exchange_row(emulator):
    # The relay forwards OpenAI's first frame, then records the handshake: a client gone at
    # once cancels the relay while that record is being written.
    for _ in range(5):
        communicator = sdk_communicator()
        await communicator.connect()
        await communicator.receive_from(timeout=10)
        await communicator.disconnect()

    sessions = [session async for session in RealtimeSession.objects.all()]
    exchanges = [exchange async for exchange in UpstreamExchange.objects.all()]
    assert len(sessions) == 5
    assert all(session.ended_at is not None for session in sessions)
    assert sorted(exchange.session_id for exchange in exchanges) == sorted(
        session.pk for session in sessions
    )


def open_slots() -> int:
    return cache.get(f"{ratelimit.SLOTS_PREFIX}:ip:unknown") or 0


async def closed_with(communicator: WebsocketCommunicator) -> tuple[list[dict], dict]:
    """Every event until the consumer closes, and the close."""
    events = []
    while True:
        message = await communicator.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            return events, message
        if message["type"] == "websocket.send":
            events.append(json.loads(message["text"]))


async def ended_row() -> RealtimeSession:
    session = await RealtimeSession.objects.aget()
    assert session.ended_at is not None
    return session


def fail_with(error: Exception):
    async def failing(*args, **kwargs):
        raise error

    return failing


@pytest.mark.parametrize(
    "where",
    ["opening the upstream", "relaying its first frame", "judging a frame"],
)
async def test_an_unexpected_failure_anywhere_ends_the_session_and_gives_the_slot_back(
    monkeypatch, where
):
    if where == "opening the upstream":
        monkeypatch.setattr(upstream, "open_socket", fail_with(RuntimeError("boom sk-secret")))
    elif where == "relaying its first frame":
        monkeypatch.setattr(ProxySession, "record_handshake", fail_with(RuntimeError("boom")))
    else:

        def failing(*args):
            raise RuntimeError("boom")

        monkeypatch.setattr(policy, "read_client_event", failing)
    communicator = sdk_communicator()

    connected, _ = await communicator.connect()
    if where == "judging a frame":
        await receive_until(communicator, "session.updated")
        await communicator.send_json_to({"type": "input_audio_buffer.clear"})
    events, closed = await closed_with(communicator)
    await communicator.send_input({"type": "websocket.disconnect", "code": closed["code"]})
    await communicator.wait(timeout=10)

    assert connected
    error = events[-1]["error"]
    assert (error["code"], error["type"]) == ("internal_error", "server_error")
    assert "boom" not in json.dumps(events)  # the failure is for the log, not the client
    assert (closed["code"], closed["reason"]) == (4500, "server_error.internal_error")
    session = await ended_row()
    assert (session.error_code, session.client_close_code) == ("internal_error", 4500)
    exchange = await session.exchanges.aget()
    assert (exchange.outcome, exchange.error_code) == (
        ("rejected", "internal_error") if where == "opening the upstream" else ("ok", "")
    )
    assert open_slots() == 0


async def test_a_failure_while_winding_up_still_gives_the_slot_back_and_ends_the_row(
    monkeypatch,
):
    monkeypatch.setattr(
        RealtimeProxyConsumer, "close_upstream", fail_with(RuntimeError("close failed"))
    )
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")

    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    with contextlib.suppress(RuntimeError):
        await communicator.wait(timeout=10)

    await ended_row()
    assert open_slots() == 0


async def test_a_cancelled_application_ends_its_session_and_gives_the_slot_back():
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")
    assert open_slots() == 1

    # What daphne does to an application that outlives its connection, and uvicorn past
    # its graceful-shutdown timeout.
    communicator.future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await communicator.future

    session = await ended_row()
    assert session.upstream_close_code == 1000
    assert open_slots() == 0


async def test_a_close_by_the_server_as_it_stops_is_recorded_as_shutting_down():
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")

    # uvicorn closes every client with 1012 before its lifespan shutdown.
    await communicator.send_input({"type": "websocket.disconnect", "code": 1012})
    await communicator.wait(timeout=10)

    session = await ended_row()
    assert (session.error_code, session.client_close_code) == ("server_shutting_down", 1012)


async def test_a_connection_lost_without_a_close_frame_leaves_a_row_that_says_so():
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")

    await communicator.send_input({"type": "websocket.disconnect", "code": 1006})
    await communicator.wait(timeout=10)

    session = await ended_row()
    assert (session.client_close_code, session.client_close_reason, session.error_code) == (
        1006,
        "connection lost without a close frame",
        "",
    )
    assert open_slots() == 0


# --- draining ---------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch) -> drain.Registry:
    """The process's registry, fresh: a drain refuses sessions for good."""
    fresh = drain.Registry()
    monkeypatch.setattr(drain, "live", fresh)
    return fresh


async def test_a_drain_tells_the_client_closes_both_sides_and_ends_the_row(registry, emulator):
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")
    assert len(registry) == 1

    drained = registry.drain(5.0)
    events, closed = await closed_with(communicator)
    await communicator.send_input({"type": "websocket.disconnect", "code": 4503})
    await asyncio.wait_for(drained, timeout=2)  # the client answered: no waiting for the grace

    assert events[-1]["error"]["code"] == "server_shutting_down"
    assert (closed["code"], closed["reason"]) == (4503, "server_error.server_shutting_down")
    session = await ended_row()
    assert (session.error_code, session.client_close_code) == ("server_shutting_down", 4503)
    assert emulator.state()["sessions"] == {}
    assert open_slots() == 0
    assert len(registry) == 0


async def test_a_drain_ends_the_row_at_the_grace_when_the_client_never_answers(registry):
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")
    started = asyncio.get_running_loop().time()

    await asyncio.wait_for(registry.drain(0.5), timeout=5)

    assert asyncio.get_running_loop().time() - started < 0.5 + drain.FINISH_ALLOWANCE
    session = await ended_row()
    assert session.error_code == "server_shutting_down"
    assert open_slots() == 0


async def test_a_connection_while_draining_is_refused_as_shutting_down(registry):
    await registry.drain(1.0)
    communicator = sdk_communicator()

    connected, _ = await communicator.connect()
    events, closed = await closed_with(communicator)
    await communicator.send_input({"type": "websocket.disconnect", "code": 4503})
    await communicator.wait(timeout=10)

    assert connected
    assert events[0]["error"]["code"] == "server_shutting_down"
    assert closed["code"] == 4503
    session = await ended_row()
    assert session.error_code == "server_shutting_down"
    assert open_slots() == 0


async def test_an_application_cancelled_while_draining_drains_its_session(registry, settings):
    settings.REALTIME_SHUTDOWN_GRACE = 0.5  # a cancelled consumer cannot hear the client answer
    communicator = sdk_communicator()
    await communicator.connect()
    await receive_until(communicator, "session.updated")
    registry.draining = True  # as the server's stop trigger leaves it

    # What daphne's own shutdown trigger does to every application.
    communicator.future.cancel()
    events, closed = await closed_with(communicator)
    with contextlib.suppress(asyncio.CancelledError):
        await communicator.future

    assert events[-1]["error"]["code"] == "server_shutting_down"
    assert closed["code"] == 4503
    session = await ended_row()
    assert session.error_code == "server_shutting_down"
    assert open_slots() == 0
