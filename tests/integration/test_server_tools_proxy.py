"""Server tools over the WebSocket proxy: the server runs the model's calls and answers them,
for openai-python's client, the openai-agents client and the page's protocol alike."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from agents.realtime import RealtimeAgent, RealtimeRunner
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel
from openai import AsyncOpenAI

from tests.integration.test_websocket_proxy import (
    create_user,
    mint_token,
    page_socket,
)
from tests.support.servers import Server, project_env, run_daphne, sign_in

TOOLS = "tests.support.tools"
SETTINGS = {
    "REALTIME_RATE_LIMIT": "0",
    "REALTIME_PROXY_MAX_SESSIONS_PER_USER": "100",
    "REALTIME_SERVER_TOOLS": ",".join(
        f"{TOOLS}.{name}" for name in ("lookup_order", "explode", "dawdle", "wait_a_moment")
    ),
    "REALTIME_TOOL_TIMEOUT": "2",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator[Server]:
    env = project_env(tmp_path_factory.mktemp("tools") / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port_factory(), **SETTINGS)
    create_user(server, "ada", "a-long-test-password")
    yield server
    server.kill()


@pytest.fixture
def agent() -> str:
    return f"tools-test-{uuid.uuid4().hex[:12]}"


def tool_entries(server: Server, session_id: int) -> list[dict]:
    return server.rows(
        "select kind, name, text, status, duration_ms, tool_call_id "
        "from realtime_conversationentry where session_id = ? "
        "and kind in ('function_call', 'function_output', 'tool_run') order by at, id",
        session_id,
    )


def tool_run(server: Server, agent: str) -> dict:
    entries = tool_entries(server, server.ended_session(agent)["id"])
    (run,) = [entry for entry in entries if entry["kind"] == "tool_run"]
    return run


def said(event) -> str:
    """What a response.done's message says (the SDK's typed event)."""
    return "".join(
        part.transcript or part.text or ""
        for item in event.response.output
        if item.type == "message"
        for part in item.content
    )


async def openai_python_turns(server: Server, agent: str, text: str, cookies=None) -> list:
    """Ask through openai-python's realtime client, answering no tool call: every
    response.done until the model has spoken after its call."""
    minted = mint_token(server, cookies=cookies)
    client = AsyncOpenAI(
        api_key=minted["value"],
        base_url=f"{server.url}/v1",
        websocket_base_url=minted["websocket_base_url"],
        max_retries=0,
        default_headers={"User-Agent": agent},
    )
    done = []
    async with client.realtime.connect(model="gpt-realtime-2.1") as connection:
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        )
        await connection.response.create()
        async for event in connection:
            assert event.type != "error", event
            if event.type == "response.done":
                done.append(event)
                if said(event):
                    break
    return done


async def test_openai_pythons_client_gets_the_server_tools_answer_and_the_log_holds_the_call(
    server, agent
):
    cookies = sign_in(server, "ada", "a-long-test-password")
    called, answered = await openai_python_turns(server, agent, "lookup_order 42", cookies)

    call = called.response.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == (
        "function_call",
        "lookup_order",
        {"order": "42"},
    )
    # The model's next answer carries the tool's result, context and all.
    assert said(answered).startswith("The lookup_order tool returned: ")
    result = json.loads(said(answered).removeprefix("The lookup_order tool returned: ")[:-1])
    assert result == {
        "order": "42",
        "status": "shipped",
        "asked_by": "ada",
        "transport": "websocket",
    }

    row = server.ended_session(agent)
    # The run may be recorded before the call's own entry (which comes with response.done).
    entries = {entry["kind"]: entry for entry in tool_entries(server, row["id"])}
    assert sorted(entries) == ["function_call", "function_output", "tool_run"]
    function_call, output, run = (
        entries[kind] for kind in ("function_call", "function_output", "tool_run")
    )
    assert json.loads(function_call["text"]) == {"order": "42"}
    assert json.loads(output["text"]) == result
    assert (run["name"], run["status"]) == ("lookup_order", "completed")
    assert run["tool_call_id"] == function_call["tool_call_id"] == call.call_id
    assert run["duration_ms"] > 0


async def test_a_tool_that_raises_gives_the_model_an_error_it_can_speak_about(server, agent):
    _, answered = await openai_python_turns(server, agent, "explode now")

    assert said(answered) == (
        'The explode tool returned: {"error":"RuntimeError: the warehouse is on fire (now)"}.'
    )
    run = tool_run(server, agent)
    assert run["status"] == "error"


async def test_a_tool_that_times_out_gives_the_model_an_error_and_the_session_goes_on(
    server, agent
):
    _, answered = await openai_python_turns(server, agent, "dawdle please")

    assert said(answered) == (
        'The dawdle tool returned: {"error":"dawdle did not finish within 2 seconds"}.'
    )
    run = tool_run(server, agent)
    assert run["status"] == "timeout"
    assert run["duration_ms"] >= 2000


async def test_the_session_stays_live_while_a_tool_runs_and_its_answer_waits_its_turn(
    server, agent
):
    """While a tool runs the user takes another turn: it is answered at once, the tool's
    output goes in when ready, and the model speaks of it after the answer under way."""
    async with page_socket(server, agent) as client:
        await client.until("session.updated")
        await client.ask("wait_a_moment for me")
        call = (await client.until("response.done"))[-1]["response"]["output"][0]
        assert call["name"] == "wait_a_moment"
        await client.ask("meanwhile, a question")
        events = await client.until("response.done", seconds=30)
        assert "meanwhile, a question" in json.dumps(events[-1]["response"]["output"])
        events += await client.until("response.done", seconds=30)

    assert "error" not in [event["type"] for event in events]
    output_added = next(
        index
        for index, event in enumerate(events)
        if event["type"] == "conversation.item.added"
        and event["item"]["type"] == "function_call_output"
    )
    final = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert final == "The wait_a_moment tool returned: done waiting (for me)."
    assert output_added < len(events) - 1


async def test_the_agents_sdks_not_found_answer_never_reaches_the_model(server, agent):
    token = mint_token(server)["value"]
    runner = RealtimeRunner(
        RealtimeAgent(name="Assistant", instructions="Answer briefly."),
        model=OpenAIRealtimeWebSocketModel(),
    )
    errors, transcripts = [], []
    config = {
        "url": f"{server.websocket_url}/v1/realtime?model=gpt-realtime-2.1",
        # With headers of its own the SDK sends no Authorization: it is ours to add.
        "headers": {"Authorization": f"Bearer {token}", "User-Agent": agent},
        "initial_model_settings": {"tracing": None},
    }
    async with await runner.run(model_config=config) as session:
        await session.send_message("lookup_order 7")
        async for event in session:
            if event.type == "raw_model_event" and event.data.type == "error":
                errors.append(event.data.error)
            if event.type == "history_updated":
                transcripts = [
                    part.transcript or getattr(part, "text", None) or ""
                    for item in event.history
                    if item.type == "message" and item.role == "assistant"
                    for part in item.content
                ]
                if any("tool returned" in text for text in transcripts):
                    break

    # The SDK answered its unknown tool itself; the proxy refused that, and the model heard
    # the server's output.
    assert any("server_tool_call" in json.dumps(error, default=str) for error in errors)
    assert any('"status":"shipped"' in text for text in transcripts)
    entries = tool_entries(server, server.ended_session(agent)["id"])
    outputs = [entry["text"] for entry in entries if entry["kind"] == "function_output"]
    assert len(outputs) == 1
    assert "not found" not in outputs[0]
