"""Drive GPT-Live sessions of the emulator through the official SDK: connect, speak, wait."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from openai import AsyncOpenAI

from realtime.emulator import audio
from tests.support.realtime_client import silence

KEY = "sk-test-emulator-key"
CHUNK_BYTES = 20 * audio.BYTES_PER_MS  # 20 ms of PCM16 at 24 kHz, as a client streams it
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
RESPONSES = {"type": "responses", "responses": {"model": "gpt-5.2", "tools": [WEATHER_TOOL]}}


def client_for(emulator: Any, key: str = KEY) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=key, base_url=emulator.base_url, max_retries=0)


def utterance(text: str = "hello there friend") -> bytes:
    """Speech with the silence around it that ends a turn (the model waits 500 ms)."""
    return silence(200) + audio.synthesize_speech(text) + silence(800)


async def stream(connection: Any, pcm: bytes, chunk: int = CHUNK_BYTES) -> None:
    """Append audio as a client streams it: ``session.input_audio.append`` per 20 ms."""
    for start in range(0, len(pcm), chunk):
        await connection.session.input_audio.append(
            audio=base64.b64encode(pcm[start : start + chunk]).decode()
        )


async def until(connection: Any, event_type: str, seconds: float = 20, **fields: Any) -> list:
    """Every event up to and including the first ``event_type`` whose fields match."""
    seen = []

    async def read() -> list:
        async for event in connection:
            seen.append(event)
            if event.type == event_type and all(
                getattr(event, name, None) == value for name, value in fields.items()
            ):
                return seen
        raise AssertionError(f"the connection closed before {event_type}: {types(seen)}")

    return await asyncio.wait_for(read(), seconds)


async def started(connection: Any, **session: Any) -> Any:
    """Send ``session.start`` (model gpt-live-1 unless given); its ``session.started``."""
    await connection.session.start(session={"model": "gpt-live-1", **session}, event_id="start")
    return (await until(connection, "session.started"))[-1]


def types(events: list) -> list[str]:
    return [event.type for event in events]


def transcript(events: list, event_type: str) -> str:
    return "".join(event.delta for event in events if event.type == event_type)


def nested(events: list, nested_type: str) -> list[dict[str, Any]]:
    """The Responses events of a type inside ``response.event`` frames."""
    return [
        event.event
        for event in events
        if event.type == "response.event" and event.event["type"] == nested_type
    ]
