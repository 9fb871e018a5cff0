"""A Channels WebSocket consumer trimmed for relaying many frames a second.

Channels' ``AsyncConsumer`` is made for consumers that also listen on a channel layer: it
makes a task and an ``asyncio.wait`` for every frame received (to wait on the client and the
channel at once), runs ``aclose_old_connections`` (a thread hop) before handling each, and
every frame sent passes through the session middleware's ``send``, which looks at the lazy
session each time although it saves sessions on HTTP responses only. A proxied audio session
receives 50 frames a second and sends about as many, so here the frames come straight from
the server's ``receive`` one at a time, and go straight to the server's ``send`` past the
session wrapper. A consumer of this kind has no channel of its own, and does its database
work through ``realtime.db``, which looks after its connections.
"""

from __future__ import annotations

import contextlib
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import InstanceSessionWrapper


class RelayConsumer(AsyncWebsocketConsumer):
    """``AsyncWebsocketConsumer`` with ``carry`` in place of Channels' ``__call__``."""

    async def carry(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle the connection's messages, one at a time, until it ends."""
        self.scope, self.channel_layer = scope, None
        self.base_send = past_session_wrappers(send)
        with contextlib.suppress(StopConsumer):
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    await self.receive(
                        text_data=message.get("text"), bytes_data=message.get("bytes")
                    )
                    continue
                handler = getattr(self, get_handler_name(message), None)
                if handler is None:
                    raise ValueError(f"No handler for message type {message['type']}")
                await handler(message)

    async def send_text(self, text: str) -> None:
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.base_send({"type": "websocket.send", "bytes": data})


def past_session_wrappers(send: Any) -> Any:
    """The ``send`` inside Channels' session middleware, which does nothing for a WebSocket
    frame but look at the session."""
    while isinstance(owner := getattr(send, "__self__", None), InstanceSessionWrapper):
        send = owner.real_send
    return send
