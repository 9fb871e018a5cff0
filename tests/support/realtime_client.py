"""A small realtime WebSocket client for tests: send events, wait for the ones expected."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.http11 import USER_AGENT

from realtime.emulator import audio

SILENCE_MS = 20


class RealtimeClient:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(event))

    async def next(self, seconds: float = 10) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.socket.recv(), seconds))
        self.events.append(event)
        return event

    async def until(self, event_type: str, seconds: float = 15) -> list[dict[str, Any]]:
        """Every event up to and including the first ``event_type``."""
        seen = []
        async with asyncio.timeout(seconds):
            while True:
                event = await self.next(seconds)
                seen.append(event)
                if event["type"] == event_type:
                    return seen

    async def closed(self, seconds: float = 10) -> tuple[int | None, str]:
        """Read (and keep) every event until the server closes; its close code and reason."""
        async with asyncio.timeout(seconds):
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    self.events.append(json.loads(await self.socket.recv()))
        return self.socket.close_code, self.socket.close_reason

    async def update_session(self, session: dict[str, Any]) -> dict[str, Any]:
        """``session.update``, then the effective session its ``session.updated`` reports."""
        await self.send({"type": "session.update", "session": session})
        return (await self.until("session.updated"))[-1]["session"]

    async def ask(self, text: str) -> None:
        """Send a user text message and ask for a response to it."""
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        await self.send({"type": "response.create"})

    async def append(self, pcm: bytes, chunk_ms: int = 20) -> None:
        """Stream internal-format audio as input_audio_buffer.append events, 20 ms each."""
        step = chunk_ms * audio.BYTES_PER_MS
        for start in range(0, len(pcm), step):
            await self.send(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(pcm[start : start + step]).decode(),
                }
            )

    async def say(
        self, text: str = "hello there, how are you today", silence_ms: int = 600
    ) -> None:
        """Speak a phrase (synthesised speech) followed by silence, as a microphone would."""
        await self.append(silence(200) + audio.synthesize_speech(text) + silence(silence_ms))


def silence(ms: int) -> bytes:
    return b"\0" * (ms * audio.BYTES_PER_MS)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


@asynccontextmanager
async def connect(
    url: str,
    *,
    key: str | None = None,
    subprotocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
    user_agent: str | None = None,
    **options: Any,
) -> AsyncIterator[RealtimeClient]:
    extra = dict(headers or {})
    if key is not None:
        extra["Authorization"] = f"Bearer {key}"
    async with websockets.connect(
        url,
        additional_headers=extra,
        subprotocols=subprotocols,
        max_size=None,
        user_agent_header=user_agent or USER_AGENT,
        **options,
    ) as socket:
        yield RealtimeClient(socket)
