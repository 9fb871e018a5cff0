"""A WebRTC call's sideband across two processes sharing a database and Redis: exactly one
process watches the call, and when that process is killed or drains, the other takes the
call over and the record goes on, totals included."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from realtime.sideband_leases import ADOPT_EVERY, LEASE_SECONDS
from tests.support.calls import hang_up, listeners, relay_call
from tests.support.polling import eventually, wait_for
from tests.support.servers import Server, project_env, run_daphne
from tests.support.webrtc_client import WebRTCClient

# A lapsed lease is found by the next search for orphans.
TAKEOVER_SECONDS = LEASE_SECONDS + ADOPT_EVERY + 10


@pytest.fixture
def pair(emulator, redis_server, tmp_path, unused_tcp_port_factory) -> Iterator[list[Server]]:
    """Two processes of their own: the tests stop one of them."""
    redis_server.flush()
    env = project_env(tmp_path / "db.sqlite3", emulator.base_url)
    env = {**env, "REDIS_URL": redis_server.url, "REALTIME_RATE_LIMIT": "0"}
    servers = [run_daphne(env, unused_tcp_port_factory()) for _ in range(2)]
    yield servers
    for server in servers:
        server.kill()
    emulator.reset()


@pytest.fixture
async def caller() -> AsyncIterator[WebRTCClient]:
    client = WebRTCClient()
    yield client
    await client.close()


def entries(server: Server, session_id: int, kind: str, column: str) -> list[str]:
    """One column of the session's timeline entries of one kind, in order."""
    rows = server.rows(
        "select * from realtime_conversationentry where session_id = ? and kind = ? order by id",
        session_id,
        kind,
    )
    return [row[column] for row in rows]


def recorded_texts(server: Server, session_id: int) -> list[str]:
    return entries(server, session_id, "user_text", "text")


def sideband_notes(server: Server, session_id: int) -> list[str]:
    return entries(server, session_id, "sideband", "status")


async def one_call_recorded_by_both(
    pair: list[Server], caller: WebRTCClient, emulator, stop_holder
) -> dict:
    """Call through the first process, talk, stop it with ``stop_holder``, talk again once
    the second watches the call, hang up through the second; the session's row."""
    holder, other = pair
    call_id = await relay_call(holder, caller)
    await eventually(lambda: listeners(emulator) == 2, 10, what="one sideband to attach")
    [session] = holder.rows("select id from realtime_realtimesession where call_id = ?", call_id)
    await caller.ask("before the holder stops")
    await asyncio.to_thread(
        wait_for, lambda: recorded_texts(other, session["id"]), 10, "the first turn's record"
    )

    await stop_holder(holder)
    await eventually(lambda: listeners(emulator) == 1, 10, what="the holder's sideband to go")
    await eventually(
        lambda: listeners(emulator) == 2, TAKEOVER_SECONDS, what="the other process to take over"
    )
    await caller.ask("after the takeover")
    await asyncio.to_thread(
        wait_for,
        lambda: len(recorded_texts(other, session["id"])) == 2,
        10,
        "the second turn's record",
    )
    await hang_up(other, call_id)
    [row] = other.rows("select * from realtime_realtimesession where id = ?", session["id"])
    return row


async def test_only_one_of_two_processes_watches_a_call(pair, caller, emulator):
    await relay_call(pair[0], caller)
    await eventually(lambda: listeners(emulator) == 2, 10, what="one sideband to attach")

    await asyncio.sleep(ADOPT_EVERY + 1)  # the other process has looked for orphans since

    assert listeners(emulator) == 2  # the caller's data channel and one sideband


async def test_a_killed_holders_call_is_taken_over_and_its_record_goes_on(pair, caller, emulator):
    async def kill(server: Server) -> None:
        server.kill()

    row = await one_call_recorded_by_both(pair, caller, emulator, kill)

    assert recorded_texts(pair[1], row["id"]) == ["before the holder stops", "after the takeover"]
    assert sideband_notes(pair[1], row["id"]) == ["attached", "taken over", "attached"]
    assert row["end_reason"] == "hangup"
    assert row["turns"] == 2  # the first process's turn, resumed from its record
    assert row["server_process"].split(":")[1] == str(pair[1].process.pid)


async def test_a_draining_holder_hands_its_call_over_and_the_record_goes_on(pair, caller, emulator):
    async def terminate(server: Server) -> None:
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.process.wait, 30) == 0

    row = await one_call_recorded_by_both(pair, caller, emulator, terminate)

    assert recorded_texts(pair[1], row["id"]) == ["before the holder stops", "after the takeover"]
    assert sideband_notes(pair[1], row["id"]) == [
        "attached",
        "handed over",
        "taken over",
        "attached",
    ]
    assert (row["end_reason"], row["turns"]) == ("hangup", 2)
    assert row["error_code"] == ""
