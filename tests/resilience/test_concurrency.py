"""Every request is recorded, however many arrive at once: 200 concurrent mints, and 200
concurrent handshakes with `ek_` secrets, against daphne on one process and on two sharing
the project's database (SQLite by default, PostgreSQL under `make test-postgres`) each leave
exactly 200 rows.

The 200 connections are opened first, a few dozen at a time, each proved accepted by one
cheap request: daphne listens with Twisted's backlog of 50, and 200 connections opened at
once overflow it, so the kernel resets some before daphne ever sees them (requests lost,
not records). Then the 200 requests are all sent at once, on connections already open.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import Server, project_env, run_daphne

CONCURRENT = 200
OPENED_AT_ONCE = 25
# Served in DEBUG (as project_env sets it), without Django's middleware or a record.
STATIC_FILE = "/static/favicon.svg"

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def crowded(emulator, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Server]:
    """daphne as `make run` starts it, on its own SQLite file, with the rate limit off."""
    env = project_env(tmp_path_factory.mktemp("crowded") / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port_factory(), REALTIME_RATE_LIMIT="0")
    yield server
    server.kill()


@pytest.fixture(scope="module")
def crowded_pair(
    emulator, redis_server, tmp_path_factory, unused_tcp_port_factory
) -> Iterator[list[Server]]:
    """Two daphne processes sharing one database (and Redis), the rate limit off: on
    PostgreSQL, 200 requests at once pass its max_connections (100) unless each process
    bounds its connections (DATABASE_POOL_SIZE)."""
    env = project_env(tmp_path_factory.mktemp("pair") / "db.sqlite3", emulator.base_url)
    env = {**env, "REALTIME_RATE_LIMIT": "0", "REDIS_URL": redis_server.url}
    servers = [run_daphne(env, unused_tcp_port_factory()) for _ in range(2)]
    yield servers
    for server in servers:
        server.kill()


@pytest.fixture
def calls_hung_up(emulator) -> Iterator[None]:
    """End the calls a test leaves live in the emulator."""
    yield
    emulator.reset()


async def opened(server: Server, count: int) -> list[Connection]:
    """``count`` connections the server has accepted, opened ``OPENED_AT_ONCE`` at a time."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connections: list[Connection] = []

    async def accepted() -> Connection:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"HEAD {STATIC_FILE} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")  # answered: accepted, and open for the next
        return reader, writer

    while len(connections) < count:
        wave = min(OPENED_AT_ONCE, count - len(connections))
        connections += await asyncio.gather(*(accepted() for _ in range(wave)))
    return connections


async def all_at_once(servers: Server | list[Server], requests: list[bytes]) -> list[int]:
    """Send each request on a connection of its own, all at once (spread evenly over
    ``servers``); return the statuses."""
    servers = servers if isinstance(servers, list) else [servers]
    connections: list[Connection] = []
    for index, server in enumerate(servers):
        connections += await opened(server, len(requests[index :: len(servers)]))
    # In the order of the requests: the first server's share, then the next one's.
    requests = [
        request for index in range(len(servers)) for request in requests[index :: len(servers)]
    ]
    for (_, writer), request in zip(connections, requests, strict=True):
        writer.write(request)

    async def status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        answer = await asyncio.wait_for(reader.read(), timeout=60)  # to the server's close
        writer.close()
        return int(answer.split(b" ", 2)[1])

    return await asyncio.gather(*(status(*connection) for connection in connections))


def post(path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def handshakes_with_secrets(agent: str, live_secret, offer: bytes) -> list[bytes]:
    """CONCURRENT handshake requests, each with an ek_ secret of its own."""
    headers = {"Content-Type": "application/sdp", "User-Agent": agent}
    return [
        post(
            "/api/realtime/handshake",
            {**headers, "Authorization": f"Bearer {live_secret()}"},
            offer,
        )
        for _ in range(CONCURRENT)
    ]


def exchange_count(server: Server, kind: str, agent: str) -> int:
    [row] = server.rows(
        "select count(*) as n from realtime_upstreamexchange where kind = ? and user_agent = ?",
        kind,
        agent,
    )
    return row["n"]


async def test_200_concurrent_mints_leave_200_rows(crowded):
    agent = f"crowd-mint-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=crowded.url) as browser:
        token = (await browser.get("/")).cookies["csrftoken"]
    mint = post(
        "/api/realtime/client-secret",
        {"Cookie": f"csrftoken={token}", "X-CSRFToken": token, "User-Agent": agent},
    )

    statuses = await all_at_once(crowded, [mint] * CONCURRENT)

    assert statuses == [200] * CONCURRENT
    assert exchange_count(crowded, "client_secret", agent) == CONCURRENT


@pytest.mark.usefixtures("calls_hung_up")
async def test_200_concurrent_handshakes_with_secrets_leave_200_rows(
    crowded, live_secret, browser_offer
):
    agent = f"crowd-call-{uuid.uuid4()}"
    handshakes = handshakes_with_secrets(agent, live_secret, browser_offer)

    statuses = await all_at_once(crowded, handshakes)

    assert statuses == [201] * CONCURRENT
    assert exchange_count(crowded, "call", agent) == CONCURRENT


@pytest.mark.usefixtures("calls_hung_up")
async def test_200_concurrent_handshakes_on_two_processes_leave_200_rows(
    crowded_pair, live_secret, browser_offer
):
    agent = f"crowd-pair-{uuid.uuid4()}"
    handshakes = handshakes_with_secrets(agent, live_secret, browser_offer)

    statuses = await all_at_once(crowded_pair, handshakes)

    assert statuses == [201] * CONCURRENT
    assert exchange_count(crowded_pair[0], "call", agent) == CONCURRENT
