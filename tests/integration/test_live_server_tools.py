"""Server tools in a GPT-Live session: the Responses backend calls them, the server answers."""

import asyncio
import base64
import json

import pytest

from realtime import upstream_live
from realtime.live_consumer import live_error
from realtime.live_recorder import LiveConversationLog
from realtime.recorder import Entry
from realtime.tools import live_calls
from realtime.tools.registry import registered_tools
from tests.support.live import CHUNK_BYTES, utterance

pytestmark = pytest.mark.usefixtures("openai_emulator")
ADD_NUMBERS = "tests.support.tools.add_numbers"


class Records:
    """A log's sink: the entries it was given."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def __call__(self, session_id: int, record: object) -> bool:
        self.entries.append(record)
        return True


async def live_session(tools_session: dict) -> tuple:
    socket = await upstream_live.open_live_socket()
    session = {**tools_session, "audio": {"format": {"type": "audio/pcm", "rate": 24000}}}
    await socket.send(json.dumps({"type": "session.start", "session": session}))
    started = json.loads(await socket.recv())
    assert started["type"] == "session.started", started
    return socket, started["session"]["id"]


async def speak(socket) -> None:
    pcm = utterance()
    for start in range(0, len(pcm), CHUNK_BYTES):
        chunk = base64.b64encode(pcm[start : start + CHUNK_BYTES]).decode()
        await socket.send(json.dumps({"type": "session.input_audio.append", "audio": chunk}))


async def said(socket, calls: live_calls.LiveToolCalls, ending: str) -> str:
    """What the assistant says until its words end with ``ending``, every frame heard by
    the calls on the way."""
    text = ""
    async with asyncio.timeout(20):
        while not text.endswith(ending):
            frame = await socket.recv()
            calls.server_frame(frame)
            event = json.loads(frame)
            if event["type"] == "session.output_transcript.delta":
                text += event["delta"]
    return text


def definition(name: str) -> dict:
    tool = registered_tools()[name].definition()
    return {key: tool[key] for key in ("type", "name", "description", "parameters")}


async def test_a_backend_call_of_a_server_tool_is_run_and_answered(settings, emulator):
    settings.REALTIME_SERVER_TOOLS = [ADD_NUMBERS]
    backend = {"model": "gpt-5-mini", "tools": [definition("add_numbers")]}
    socket, session_id = await live_session(
        {"model": "gpt-live-1.1", "delegation": {"type": "responses", "responses": backend}}
    )
    records = Records()
    log = LiveConversationLog(1, "gpt-live-1.1", records)
    calls = live_calls.LiveToolCalls.for_session(
        registered_tools(),
        socket.send,
        transport="websocket",
        user_id=None,
        client_ip=None,
        log=log,
    )
    try:
        emulator.hear("add_numbers please", session_id=session_id)
        await speak(socket)
        text = await said(socket, calls, ".")
        while "tool returned" not in text:
            text = await said(socket, calls, ".")
    finally:
        await calls.close()
        await socket.close()
    # The emulator's backend gives every integer argument 0 (its rule): 0 + 0.
    assert text.endswith("The add_numbers tool returned: 0.")
    runs = [entry for entry in records.entries if entry.kind == "tool_run"]
    assert [(run.name, run.text, run.status) for run in runs] == [("add_numbers", "0", "completed")]


def test_a_clients_output_for_a_call_the_server_runs_is_refused():
    calls = live_calls.LiveToolCalls(
        {}, None, transport="websocket", user_id=None, client_ip=None, timeout=1
    )
    calls.calls.add("call_1")
    event = {
        "type": "response.item.create",
        "event_id": "c9",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    }
    refusal = live_error(calls.refusal(event))
    assert refusal["type"] == "error"
    assert refusal["client_event_id"] == refusal["error"]["client_event_id"] == "c9"
    error = refusal["error"]
    assert (error["code"], error["param"]) == ("server_tool_call", "item.call_id")
    assert calls.refusal({**event, "item": {**event["item"], "call_id": "call_2"}}) is None
