"""Hostile input against the WebSocket proxy: frames of every type, size, encoding and
nesting, and events out of order, in this process (hypothesis) and, for what only a real
server's WebSocket layer sees, against daphne.

Whatever a client sends, the proxy answers with error events or a documented close, never a
traceback or a secret; every session leaves exactly one ended row; the open-session slot
comes back; nothing outlives a session, and memory does not grow with what was sent.
"""

import asyncio
import contextlib
import json
import os
import struct
import tracemalloc
import uuid
from collections.abc import Iterator

import pytest
import websockets
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime import ratelimit, tokens
from realtime.errors import PROBLEMS
from realtime.models import RealtimeSession
from realtime.routing import websocket_urlpatterns
from tests.conftest import SERVER_KEY
from tests.support import strategies
from tests.support.polling import wait_for
from tests.support.realtime_client import connect
from tests.support.servers import SERVER_SECRET_KEY, project_env, run_daphne, run_server

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
MAX_FRAME = 16 * 1024
# Every close the proxy may send: a normal close, OpenAI's own, and ours.
DOCUMENTED_CLOSES = {1000, 3000, 4000} | {
    problem.close_code for problem in PROBLEMS.values() if problem.close_code
}
MARKER = {"type": "input_audio_buffer.clear", "event_id": "marker"}


def assert_nothing_leaks(texts: list[str]) -> None:
    """No event may carry a traceback or a credential of the server."""
    for text in texts:
        assert "Traceback" not in text
        assert SERVER_KEY not in text
        assert "sk-emulator" not in text


# --- in this process ---------------------------------------------------------------------

in_process = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxy_settings(openai_emulator, settings):
    settings.REALTIME_RATE_LIMIT = 0
    settings.REALTIME_PROXY_MAX_FRAME_BYTES = MAX_FRAME
    settings.REALTIME_PROXY_MAX_MESSAGES_PER_SECOND = 100_000
    settings.REALTIME_PROXY_MAX_SESSIONS_PER_USER = 1  # a slot that leaks refuses the next


def communicator() -> WebsocketCommunicator:
    token = tokens.issue(None, ttl=60).value
    return WebsocketCommunicator(
        application, "/v1/realtime", headers=[(b"authorization", f"Bearer {token}".encode())]
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


json_values = strategies.json_values(st.text(st.characters(codec="utf-8"), max_size=20))
events = strategies.client_events(json_values, item_id=st.sampled_from(["item_none", "", 7]))
# Events that are well formed but make no sense where they arrive.
out_of_order = st.sampled_from(
    [
        {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0},
        {"type": "conversation.item.delete", "item_id": "item_x"},
        {"type": "conversation.item.retrieve", "item_id": "item_x"},
        {"type": "response.cancel"},
        {"type": "input_audio_buffer.commit"},
        {"type": "output_audio_buffer.clear"},
        {"type": "response.create"},
        {"type": "conversation.item.create", "previous_item_id": "item_x", "item": {}},
    ]
).map(json.dumps)
hostile_frames = st.one_of(
    events,
    out_of_order,
    json_values.map(json.dumps),
    st.text(st.characters() | st.characters(categories=["Cs"]), max_size=200),  # lone surrogates
    st.binary(max_size=200),
    st.just(""),
    st.just(b""),
    st.integers(MAX_FRAME + 1, MAX_FRAME * 4).map(lambda size: '{"type":"x","a":"' + "A" * size),
    st.sampled_from(
        [
            '{"type":"input_audio_buffer.append","type":"session.update","audio":"AA"}',
            '{"\\u0074ype":"session.update","type":"input_audio_buffer.clear"}',
            '{"type":"input_audio_buffer.append","audio":"\\ud800"}',
            '{"type":"response.create","response":{"max_output_tokens":1e999}}',
            '{"type":"response.create","response":{"max_output_tokens":' + "9" * 400 + "}}",
            '{"type":"response.create","response":{"metadata":' + nested(200) + "}}",
            '{"type":"response.create","response":{"metadata":' + nested(1000) + "}}",
            '{"type":"response.create","response":{"metadata":' + nested(5000) + "}}",
        ]
    ),
)


async def hostile_session(frames: list[str | bytes]) -> None:
    """One session that sends ``frames``; assert what the client saw and what was left."""
    before = asyncio.all_tasks()
    rows = await RealtimeSession.objects.acount()
    client = communicator()
    connected, _ = await client.connect()
    assert connected
    texts: list[str] = []
    while not texts or json.loads(texts[-1])["type"] != "session.updated":
        texts.append((await client.receive_output(timeout=10))["text"])
    for frame in frames:  # sent raw: send_to() refuses empty frames, a client may not
        await client.send_input(
            {"type": "websocket.receive", "bytes" if isinstance(frame, bytes) else "text": frame}
        )
    await client.send_json_to(MARKER)
    closed = None
    while closed is None:
        message = await client.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            closed = message
            break
        texts.append(message["text"])
        event = json.loads(message["text"])
        assert isinstance(event, dict)
        if event["type"] == "input_audio_buffer.cleared":
            break
    await client.send_input({"type": "websocket.disconnect", "code": 1000})
    await client.wait(timeout=10)  # raises if the consumer crashed

    assert_nothing_leaks(texts)
    if closed is not None:
        assert closed["code"] in DOCUMENTED_CLOSES - {4500}  # never "internal_error"
    assert await RealtimeSession.objects.acount() == rows + 1
    assert await RealtimeSession.objects.filter(ended_at__isnull=True).aexists() is False
    assert (cache.get(f"{ratelimit.SLOTS_PREFIX}:ip:unknown") or 0) == 0
    await asyncio.sleep(0)  # let finished tasks run their done-callbacks
    assert asyncio.all_tasks() - before == set()


@in_process
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(hostile_frames, min_size=1, max_size=8))
def test_hostile_frames_are_answered_and_leave_one_ended_row_and_the_slot(proxy_settings, frames):
    asyncio.run(hostile_session(frames))


@in_process
def test_memory_does_not_grow_with_what_hostile_sessions_send(proxy_settings):
    big = '{"type":"input_audio_buffer.append","audio":"' + "A" * (MAX_FRAME - 60) + '"}'
    frames = [big] * 20 + ['{"type":"x","a":"' + "A" * MAX_FRAME * 4, nested(5000)]

    async def sessions(count: int) -> None:
        for _ in range(count):
            await hostile_session(frames)

    asyncio.run(sessions(2))  # warm up: imports, caches, the pooled connections
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        asyncio.run(sessions(10))  # 10 sessions of 22 frames: about 4 MB sent
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()

    assert grown < 1_000_000


# --- against daphne: what only a real WebSocket layer sees --------------------------------


def raw_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """One WebSocket frame as a client writes it, rules broken on request."""
    header = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        header += bytes([mask_bit | len(payload)])
    elif len(payload) < 1 << 16:
        header += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


CLEAR = json.dumps({"type": "input_audio_buffer.clear"}).encode()
BROKEN_FRAMES = {
    "invalid UTF-8 in a text frame": [raw_frame(0x1, b'{"type":"\xff\xfe"}')],
    "an unmasked frame": [raw_frame(0x1, CLEAR, masked=False)],
    "reserved bits set": [raw_frame(0x1, CLEAR, rsv=0b010)],
    "an unknown opcode": [raw_frame(0x3, CLEAR)],
    "a ping longer than a control frame may be": [raw_frame(0x9, b"p" * 200)],
    "a continuation without a start": [raw_frame(0x0, CLEAR)],
    "a text frame inside a fragmented message": [
        raw_frame(0x1, CLEAR[:5], fin=False),
        raw_frame(0x1, CLEAR[5:]),
    ],
}


def deep_event(depth: int) -> bytes:
    return b'{"type":"response.create","response":{"metadata":%s}}' % nested(depth).encode()


# Each with the first answer it gets: an event type, or an error's code.
ANSWERED_FRAMES = {
    "a message in two fragments": (
        [raw_frame(0x1, CLEAR[:5], fin=False), raw_frame(0x0, CLEAR[5:])],
        "input_audio_buffer.cleared",
    ),
    "a binary frame": ([raw_frame(0x2, b"\x00\x01")], "invalid_event"),
    # Deeper than the service reads (the emulator: 128 levels), not than the proxy writes.
    "nesting the proxy forwards and OpenAI refuses": (
        [raw_frame(0x1, deep_event(200))],
        "invalid_json",
    ),
    "nesting past what the proxy writes": ([raw_frame(0x1, deep_event(1000))], "invalid_json"),
    "nesting past what the proxy reads": ([raw_frame(0x1, deep_event(5000))], "invalid_json"),
    "a lone surrogate, escaped": (
        [raw_frame(0x1, b'{"type":"input_audio_buffer.append","audio":"\\udc00"}')],
        "invalid_json",
    ),
}


@pytest.fixture(scope="module")
def daphne_proxy(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator:
    env = project_env(tmp_path_factory.mktemp("hostile") / "db.sqlite3", emulator.base_url)
    server = run_daphne(
        env,
        unused_tcp_port_factory(),
        REALTIME_RATE_LIMIT="0",
        REALTIME_PROXY_MAX_SESSIONS_PER_USER="1",  # a slot that leaks refuses the next
    )
    yield server
    server.kill()


@pytest.fixture
def agent() -> str:
    return f"hostile-{uuid.uuid4().hex[:12]}"


def proxy_socket(server, agent: str):
    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        token = tokens.issue(None, 60).value
    return connect(f"{server.websocket_url}/v1/realtime", key=token, user_agent=agent)


def ended_row(server, agent: str) -> dict:
    def row() -> dict | None:
        found = server.rows("select * from realtime_realtimesession where user_agent = ?", agent)
        assert len(found) <= 1
        return found[0] if found and found[0]["ended_at"] else None

    return wait_for(row, 10, what="the session's ended row")


async def still_serves(server) -> None:
    """A new session opens: the slot came back and the server is well."""
    async with proxy_socket(server, f"after-{uuid.uuid4().hex[:8]}") as client:
        assert (await client.next())["type"] == "session.created"


@pytest.mark.parametrize("frames", BROKEN_FRAMES.values(), ids=BROKEN_FRAMES.keys())
async def test_a_frame_that_breaks_the_websocket_protocol_closes_with_4400_and_an_event(
    daphne_proxy, agent, frames
):
    async with proxy_socket(daphne_proxy, agent) as client:
        await client.until("session.updated")
        for frame in frames:
            client.socket.transport.write(frame)
        closed = await client.closed()

    assert closed == (4400, "invalid_request_error.invalid_frame")
    assert client.events[-1]["error"]["code"] == "invalid_frame"
    assert_nothing_leaks([json.dumps(event) for event in client.events])
    row = await asyncio.to_thread(ended_row, daphne_proxy, agent)
    assert (row["error_code"], row["client_close_code"]) == ("invalid_frame", 4400)
    await still_serves(daphne_proxy)


@pytest.mark.parametrize(("frames", "answer"), ANSWERED_FRAMES.values(), ids=ANSWERED_FRAMES.keys())
async def test_a_frame_the_proxy_can_read_is_answered_and_the_session_goes_on(
    daphne_proxy, agent, frames, answer
):
    async with proxy_socket(daphne_proxy, agent) as client:
        await client.until("session.updated")
        for frame in frames:
            client.socket.transport.write(frame)
        first = await client.next()
        await client.send(MARKER)  # the session goes on
        await client.until("input_audio_buffer.cleared")

    assert answer in (first["type"], first.get("error", {}).get("code"))
    assert_nothing_leaks([json.dumps(event) for event in client.events])
    row = await asyncio.to_thread(ended_row, daphne_proxy, agent)
    assert (row["error_code"], row["client_close_code"]) == ("", 1000)
    await still_serves(daphne_proxy)


async def test_a_message_far_over_any_limit_closes_with_4413_and_an_event(daphne_proxy, agent):
    async with proxy_socket(daphne_proxy, agent) as client:
        await client.until("session.updated")
        client.socket.transport.write(raw_frame(0x1, b'{"audio":"' + b"A" * 8_000_000))
        closed = await client.closed()

    assert closed == (4413, "invalid_request_error.frame_too_large")
    assert client.events[-1]["error"]["code"] == "frame_too_large"
    row = await asyncio.to_thread(ended_row, daphne_proxy, agent)
    assert row["error_code"] == "frame_too_large"
    await still_serves(daphne_proxy)


async def test_under_uvicorn_our_limit_answers_first_and_past_its_own_uvicorn_closes_1009(
    tmp_path, emulator, unused_tcp_port_factory
):
    env = project_env(tmp_path / "db.sqlite3", emulator.base_url)
    server = run_server("uvicorn", env, unused_tcp_port_factory(), REALTIME_RATE_LIMIT="0")
    ours, theirs = f"hostile-{uuid.uuid4().hex[:8]}", f"hostile-{uuid.uuid4().hex[:8]}"
    try:
        async with proxy_socket(server, ours) as client:
            await client.until("session.updated")
            await client.send({"type": "input_audio_buffer.append", "audio": "A" * 2_000_000})
            over_ours = await client.closed()
        # uvicorn's --ws-max-size (16 MiB by default) stands far above the proxy's limit.
        async with proxy_socket(server, theirs) as client:
            await client.until("session.updated")
            with contextlib.suppress(websockets.ConnectionClosed):
                await client.socket.send("A" * (17 * 1024 * 1024))
            over_theirs = await client.closed()
        rows = [await asyncio.to_thread(ended_row, server, agent) for agent in (ours, theirs)]
    finally:
        server.kill()

    assert over_ours == (4413, "invalid_request_error.frame_too_large")
    assert over_theirs[0] == 1009
    assert (rows[0]["error_code"], rows[0]["client_close_code"]) == ("frame_too_large", 4413)
    # uvicorn closed it before the proxy saw the message: the row has uvicorn's code and why.
    assert (rows[1]["error_code"], rows[1]["client_close_code"]) == ("", 1009)
    assert "exceeds" in rows[1]["client_close_reason"]
