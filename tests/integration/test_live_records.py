"""A real GPT-Live session on the emulator, driven by the official SDK, recorded by the Live
conversation log as a proxy would: every frame the server sends, every event the client sends."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from realtime import pricing
from realtime.live_recorder import LiveConversationLog
from realtime.models import EntryKind
from realtime.records import Entry
from tests.support.live import CHUNK_BYTES, RESPONSES, client_for, utterance

HEARD = "hello from the records test"


class RecordedConnection:
    """The SDK's Live connection, with a log that hears both ways of it."""

    def __init__(self, connection: Any, log: LiveConversationLog) -> None:
        self.connection = connection
        self.log = log

    async def send(self, event: dict[str, Any]) -> None:
        self.log.client_event(event)
        await self.connection.send(event)

    async def until(self, event_type: str, *, delta: str | None = None) -> dict[str, Any]:
        """Relay frames to the log up to the first ``event_type`` (with that delta)."""
        return await self.until_event(
            lambda event: event["type"] == event_type and delta in (None, event.get("delta"))
        )

    async def until_backend(self, nested_type: str) -> dict[str, Any]:
        """Relay frames to the log up to the Responses backend's next ``nested_type``."""
        return await self.until_event(
            lambda event: (
                event["type"] == "response.event" and event["event"]["type"] == nested_type
            )
        )

    async def until_event(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Relay frames to the log up to the first event ``wanted`` takes."""

        async def read() -> dict[str, Any]:
            while True:
                frame = (await self.connection.recv_bytes()).decode()
                self.log.server_frame(frame)
                event = json.loads(frame)
                if wanted(event):
                    return event

        return await asyncio.wait_for(read(), 20)


async def test_a_live_session_on_the_emulator_leaves_its_transcripts_and_final_usage(emulator):
    records: list = []
    log = LiveConversationLog(
        1, "gpt-live-1.1", lambda session_id, record: records.append(record) or True
    )
    async with client_for(emulator).live.connect() as connection:
        live = RecordedConnection(connection, log)
        await live.send({"type": "session.start", "session": {"model": "gpt-live-1.1"}})
        started = await live.until("session.started")
        emulator.hear(HEARD, session_id=started["session"]["id"])
        speech = utterance()
        for start in range(0, len(speech), CHUNK_BYTES):
            chunk = base64.b64encode(speech[start : start + CHUNK_BYTES]).decode()
            await live.send({"type": "session.input_audio.append", "audio": chunk})
        await live.until("session.output_transcript.delta", delta=' test".')
        await live.send({"type": "session.close"})
        closed = await live.until("session.closed")

    entries = [(entry.kind, entry.text) for entry in records if isinstance(entry, Entry)]
    assert entries == [
        (EntryKind.USER_SPEECH, HEARD),
        (EntryKind.ASSISTANT, f'You said: "{HEARD}".'),
    ]
    fields = log.end_fields()
    reported = pricing.LiveUsage.from_event(closed["usage"])
    assert fields["usage_seconds"] == reported.seconds == Decimal(closed["usage"]["seconds"])
    assert fields["cost_usd"] == pricing.live_cost(reported, "gpt-live-1.1")
    assert fields["turns"] == 1
    assert log.end_reason == "close_requested"


async def test_a_live_sessions_backend_tokens_add_up_over_its_responses(emulator):
    log = LiveConversationLog(1, "gpt-live-1.1", lambda session_id, record: True)
    async with client_for(emulator).live.connect() as connection:
        live = RecordedConnection(connection, log)
        session = {"model": "gpt-live-1.1", "delegation": RESPONSES}
        await live.send({"type": "session.start", "session": session})
        await live.until("session.started")
        ask = {"type": "message", "role": "user", "content": "get_weather in Paris"}
        await live.send({"type": "response.item.create", "item": ask})
        await live.send({"type": "response.create"})
        call = await live.until_backend("response.output_item.done")
        called = await live.until_backend("response.completed")
        output = {
            "type": "function_call_output",
            "call_id": call["event"]["item"]["call_id"],
            "output": "sunny",
        }
        await live.send({"type": "response.item.create", "item": output})
        await live.send({"type": "response.create"})
        answered = await live.until_backend("response.completed")  # with the call in context
        await live.send({"type": "session.close"})
        await live.until("session.closed")

    usages = [done["event"]["response"]["usage"] for done in (called, answered)]
    fields = log.end_fields()
    assert (fields["input_tokens"], fields["output_tokens"]) == (
        sum(usage["input_tokens"] for usage in usages),
        sum(usage["output_tokens"] for usage in usages),
    )
    assert fields["total_tokens"] == sum(usage["total_tokens"] for usage in usages)
