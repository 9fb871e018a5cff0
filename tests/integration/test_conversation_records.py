"""What a proxied WebSocket session leaves for staff: its conversation, responses and totals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.integration.test_websocket_proxy import page_socket
from tests.support.servers import project_env, run_daphne

SETTINGS = {
    "REALTIME_RATE_LIMIT": "0",
    "REALTIME_PROXY_MAX_SESSIONS_PER_USER": "100",
    "REALTIME_PROXY_MAX_MESSAGES_PER_SECOND": "5000",
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator:
    env = project_env(tmp_path_factory.mktemp("records") / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port_factory(), **SETTINGS)
    yield server
    server.kill()


@pytest.fixture
def agent() -> str:
    return f"records-test-{uuid.uuid4().hex[:12]}"


def entries(server, session_id: int) -> list[dict]:
    return server.rows(
        "select * from realtime_conversationentry where session_id = ? order by at, id",
        session_id,
    )


def responses(server, session_id: int) -> list[dict]:
    return server.rows(
        "select * from realtime_responserecord where session_id = ? order by created_at, id",
        session_id,
    )


async def test_a_spoken_and_a_typed_turn_are_recorded_with_usage_cost_and_latency(proxy, agent):
    async with page_socket(proxy, agent) as client:
        await client.until("session.updated")
        await client.say("hello through the proxy")
        spoken = await client.until("response.done", seconds=30)
        await client.ask("and a typed question")
        typed = await client.until("response.done", seconds=30)

    row = proxy.ended_session(agent)
    timeline = entries(proxy, row["id"])
    kinds = [entry["kind"] for entry in timeline]
    assert kinds == ["user_speech", "assistant", "user_text", "assistant"]
    speech, spoken_reply, question, typed_reply = timeline
    assert speech["text"]  # the emulator's transcription of the spoken turn
    assert spoken_reply["text"] == spoken[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert question["text"] == "and a typed question"
    assert typed_reply["status"] == "completed"
    assert typed_reply["response_id"] == typed[-1]["response"]["id"]

    first, second = responses(proxy, row["id"])
    assert first["status"] == second["status"] == "completed"
    assert 0 < first["turn_to_created_ms"] <= first["turn_to_first_output_ms"]
    assert first["turn_to_first_output_ms"] <= first["turn_to_done_ms"]
    assert second["turn_to_created_ms"] > 0
    usage = spoken[-1]["response"]["usage"]
    assert first["output_audio_tokens"] == usage["output_token_details"]["audio_tokens"] > 0
    assert Decimal(str(first["cost_usd"])) > 0

    assert row["turns"] == 2
    assert row["end_reason"] == "client_closed"
    assert Decimal(str(row["cost_usd"])) == Decimal(str(first["cost_usd"])) + Decimal(
        str(second["cost_usd"])
    )
    assert (
        row["total_tokens"]
        == usage["total_tokens"] + typed[-1]["response"]["usage"]["total_tokens"]
    )
    assert row["records_dropped"] == 0


async def test_without_stored_transcripts_the_counts_and_cost_stay(
    tmp_path, emulator, unused_tcp_port, agent
):
    env = project_env(tmp_path / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port, REALTIME_STORE_TRANSCRIPTS="false", **SETTINGS)
    try:
        async with page_socket(server, agent) as client:
            await client.until("session.updated")
            await client.ask("a private question")
            await client.until("response.done", seconds=30)
        row = server.ended_session(agent)
        timeline = entries(server, row["id"])
    finally:
        server.kill()

    assert [entry["kind"] for entry in timeline] == ["user_text", "assistant"]
    assert all(entry["text"] == "" for entry in timeline)
    assert row["turns"] == 1
    assert Decimal(str(row["cost_usd"])) > 0
