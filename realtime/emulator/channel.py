"""Carry a WebRTC call's events over its ``oai-events`` data channel."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class EventHandler(Protocol):
    """What the channel's client events go to: a realtime conversation or a Live connection."""

    async def handle(self, message: str | bytes) -> None: ...

    def detach(self, output: Any) -> None: ...


class DataChannelOutput:
    """Server events over the call's ``oai-events`` channel; client events back, in order."""

    def __init__(self, channel: Any, conversation: EventHandler) -> None:
        self.channel = channel
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read(conversation))
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._closed(conversation))

    async def _read(self, conversation: EventHandler) -> None:
        while True:
            await conversation.handle(await self._inbox.get())

    def _closed(self, conversation: EventHandler) -> None:
        conversation.detach(self)
        self._reader.cancel()

    async def send_text(self, text: str) -> None:
        if self.channel.readyState != "open":
            raise ConnectionError("the data channel is closed")
        self.channel.send(text)

    async def close(self, code: int, reason: str) -> None:
        self.channel.close()
