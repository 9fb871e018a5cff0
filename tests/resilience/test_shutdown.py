"""Stopping a server loses no session: every live proxied session is drained (its client
told why and closed, OpenAI's socket closed, its row ended) within the grace; and what a
killed server left open is ended by the next start or by `manage.py sweep_sessions`."""

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack

import pytest

from tests.support.polling import wait_for
from tests.support.realtime_client import RealtimeClient, connect
from tests.support.servers import SERVER_SECRET_KEY, Server, manage, run_server

GRACE = 5.0
SETTINGS = {
    "REALTIME_RATE_LIMIT": "0",
    "REALTIME_PROXY_MAX_SESSIONS_PER_USER": "100",
    "REALTIME_SHUTDOWN_GRACE": str(GRACE),
}
SESSIONS = 3


@pytest.fixture
def start(server_env, unused_tcp_port_factory) -> Iterator[Callable[..., Server]]:
    """Start the project under a server (daphne, uvicorn) on a free port, one database."""
    servers: list[Server] = []

    def start_server(kind: str = "daphne") -> Server:
        server = run_server(kind, server_env, unused_tcp_port_factory(), **SETTINGS)
        servers.append(server)
        return server

    yield start_server
    for server in servers:
        server.kill()


@pytest.fixture
def agent() -> str:
    """A User-Agent unique to the test, to find its rows."""
    return f"shutdown-test-{uuid.uuid4().hex[:12]}"


def token() -> str:
    from django.test import override_settings

    from realtime import tokens

    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        return tokens.issue(None, 60).value


async def open_sessions(
    stack: AsyncExitStack, server: Server, agent: str, count: int = SESSIONS
) -> list[RealtimeClient]:
    clients = [
        await stack.enter_async_context(
            connect(f"{server.websocket_url}/v1/realtime", key=token(), user_agent=agent)
        )
        for _ in range(count)
    ]
    for client in clients:
        await client.until("session.updated")
    return clients


def session_rows(server: Server, agent: str) -> list[dict]:
    return server.rows(
        "select * from realtime_realtimesession where user_agent = ? order by id", agent
    )


def stop(server: Server, signal_number: int) -> tuple[int, float]:
    """Signal the server; its exit status and how long it took to exit."""
    started = time.monotonic()
    server.process.send_signal(signal_number)
    status = server.process.wait(GRACE + 10)
    return status, time.monotonic() - started


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
async def test_daphne_drains_every_live_session_when_it_is_stopped(
    start, emulator, agent, signal_number
):
    server = start("daphne")
    async with AsyncExitStack() as stack:
        clients = await open_sessions(stack, server, agent)
        stopping = asyncio.create_task(asyncio.to_thread(stop, server, signal_number))
        closes = await asyncio.gather(*(client.closed(GRACE + 5) for client in clients))
        status, took = await stopping

    assert closes == [(4503, "server_error.server_shutting_down")] * SESSIONS
    for client in clients:
        error = client.events[-1]["error"]
        assert (error["code"], error["type"]) == ("server_shutting_down", "server_error")
    assert status == 0, server.output
    assert took < GRACE
    rows = session_rows(server, agent)
    assert [(row["error_code"], row["client_close_code"]) for row in rows] == [
        ("server_shutting_down", 4503)
    ] * SESSIONS
    assert all(row["ended_at"] and row["upstream_close_code"] == 1000 for row in rows)
    assert emulator.state()["sessions"] == {}


async def test_a_session_that_arrives_while_daphne_stops_is_told_it_is_shutting_down(start, agent):
    server = start("daphne")
    async with AsyncExitStack() as stack:
        [client] = await open_sessions(stack, server, agent, count=1)
        # A client that never answers the close keeps the drain waiting, briefly.
        client.socket.transport.pause_reading()
        server.process.send_signal(signal.SIGTERM)
        async with connect(
            f"{server.websocket_url}/v1/realtime", key=token(), user_agent=agent
        ) as late:
            refused = await late.closed()
        client.socket.transport.resume_reading()
    await asyncio.to_thread(server.process.wait, GRACE + 10)

    assert refused == (4503, "server_error.server_shutting_down")
    assert late.events[0]["error"]["code"] == "server_shutting_down"
    rows = session_rows(server, agent)
    assert [row["error_code"] for row in rows] == ["server_shutting_down"] * 2
    refusal = server.rows(
        "select outcome, error_code from realtime_upstreamexchange where session_id = ?",
        rows[1]["id"],
    )
    # Refused, never sent upstream.
    assert refusal == [{"outcome": "rejected", "error_code": "server_shutting_down"}]


async def test_uvicorn_closes_every_live_session_and_ends_each_row_when_it_is_stopped(
    start, emulator, agent
):
    server = start("uvicorn")
    async with AsyncExitStack() as stack:
        clients = await open_sessions(stack, server, agent)
        stopping = asyncio.create_task(asyncio.to_thread(stop, server, signal.SIGTERM))
        closes = await asyncio.gather(*(client.closed(GRACE + 5) for client in clients))
        status, took = await stopping

    # uvicorn closes every WebSocket itself (1012, "service restart") before the
    # application hears of it: no event, and no reason.
    assert closes == [(1012, "")] * SESSIONS
    assert status in (0, -signal.SIGTERM), server.output  # uvicorn re-raises the signal
    assert "Application shutdown complete" in server.output
    assert took < GRACE
    rows = session_rows(server, agent)
    assert [(row["error_code"], row["client_close_code"]) for row in rows] == [
        ("server_shutting_down", 1012)
    ] * SESSIONS
    assert all(row["ended_at"] for row in rows)
    assert emulator.state()["sessions"] == {}


# --- what a killed server left open ----------------------------------------------------------


def open_rows(server: Server, agent: str) -> list[dict]:
    return [row for row in session_rows(server, agent) if row["ended_at"] is None]


async def test_the_next_start_ends_the_sessions_a_killed_server_left_open(start, agent):
    killed = start("daphne")
    async with AsyncExitStack() as stack:
        await open_sessions(stack, killed, agent, count=2)
        killed.kill()  # SIGKILL: nothing drains
    left_open = open_rows(killed, agent)
    assert len(left_open) == 2
    assert {row["server_process"].split(":")[1] for row in left_open} == {str(killed.process.pid)}

    restarted = start("daphne")

    def swept() -> bool:
        return not open_rows(restarted, agent)

    await asyncio.to_thread(wait_for, swept, 10, "the start to sweep")
    assert [row["error_code"] for row in session_rows(restarted, agent)] == ["server_stopped"] * 2


def sweep_command(server: Server) -> subprocess.CompletedProcess:
    return manage(server, "sweep_sessions")


async def test_the_sweep_command_ends_what_a_killed_server_left_and_spares_a_live_one(start, agent):
    killed, alive = start("daphne"), start("daphne")
    async with AsyncExitStack() as stack:
        await open_sessions(stack, killed, agent, count=1)
        await open_sessions(stack, alive, agent, count=1)
        killed.kill()
        swept = await asyncio.to_thread(sweep_command, killed)
        rows = {row["server_process"].split(":")[1]: row for row in session_rows(alive, agent)}

    assert swept.stdout.startswith("Ended 1 session(s) that stopped processes left open; 1 open")
    assert rows[str(killed.process.pid)]["error_code"] == "server_stopped"
    assert rows[str(killed.process.pid)]["ended_at"] is not None
    assert rows[str(alive.process.pid)]["ended_at"] is None  # still carried by a live process
