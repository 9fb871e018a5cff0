"""Run one Live session: its connections, its timeline, the events it sends and how it ends.

Like a realtime :class:`~realtime.emulator.conversation.Conversation`, a Live session does
not care how it is reached: its ways in are
:class:`~realtime.emulator.live.connection.Connection` objects (a primary socket, a data
channel, sidebands), each hearing its share. Output audio goes to the primary socket in the
session's format without timestamps, to sidebands as PCM16 24 kHz with
``start_ms``/``end_ms``, and not to a data channel (the call's track carries it); the
primary transport's input audio is reflected to sidebands as ``session.input_audio.append``.

The timeline is the input audio: it advances with every append (or WebRTC frame), silence
included, and every ``*_ms`` is a position on it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.emulator import audio, ids
from realtime.emulator.conversation import AudioSink, Settings
from realtime.emulator.errors import ApiError
from realtime.emulator.live.backend import Backend
from realtime.emulator.live.commands import Commands
from realtime.emulator.live.connection import Connection, error_event
from realtime.emulator.live.model import LiveModel
from realtime.emulator.live.resource import input_format
from realtime.emulator.live.speech import Speaker

logger = logging.getLogger(__name__)

# A WebRTC create bills 15 s up front; the session's usage never reports less.
WEBRTC_PREPAID_SECONDS = 15


class LiveSession:
    """One Live session, run the way the model runs it."""

    def __init__(
        self,
        session: dict[str, Any],
        *,
        transport: str,
        settings: Settings,
        audio_sink: AudioSink | None = None,
        heard: deque[str] | None = None,
    ) -> None:
        self.session = session  # the SessionResource
        self.transport = transport  # "websocket" or "webrtc"
        self.settings = settings
        self.audio_sink = audio_sink
        self.connections: list[Connection] = []
        self.on_client_event: Callable[[Any], None] | None = None
        self.on_close: list[Callable[[], Awaitable[None]]] = []
        self.closed = False
        self.muted = False
        self.started = time.monotonic()
        self.prepaid_seconds = WEBRTC_PREPAID_SECONDS if transport == "webrtc" else 0
        self.stats = {"audio_in_ms": 0.0, "max_input_level": 0.0}
        # What tests say the next utterances are heard as: this session's, then any session's.
        self.heard: deque[str] = deque()
        self._shared_heard = heard if heard is not None else deque()
        self.delegations: dict[str, str] = {}  # delegation id -> target
        self._background: set[asyncio.Task] = set()
        self.speaker = Speaker(self)
        self.model = LiveModel(self)
        self.backend = Backend(self)
        self.commands = Commands(self)
        self.spawn(self._report_usage())
        self.spawn(self._expire_when_due())

    # --- connections ------------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        self.connections.append(connection)

    def detach(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)

    async def greet(self, connection: Connection, client_event_id: str | None = None) -> None:
        """Send ``session.started`` to one connection: the first thing it hears."""
        await self.emit(
            {"type": "session.started", "session": self.session}, client_event_id, to=connection
        )
        if connection.kind == "datachannel" and self.session.get("client"):
            permissions = self.session["client"]["data_channel"]
            await self.emit(
                {
                    "type": "info",
                    "code": "data_channel_permissions",
                    "message": "Data channel permissions applied: client events "
                    f"{json.dumps(permissions.get('allowed_client_events') or 'all')}, server "
                    f"events {json.dumps(permissions.get('allowed_server_events') or 'all')}.",
                },
                to=connection,
            )

    # --- the timeline and audio -------------------------------------------------------------

    @property
    def position_ms(self) -> int:
        return self.model.position_ms

    async def feed_audio(self, pcm: bytes) -> None:
        """Take input audio (internal format) from the primary transport."""
        self.stats["audio_in_ms"] += audio.duration_ms(pcm)
        if any(connection.kind == "sideband" for connection in self.connections):
            await self.emit({"type": "session.input_audio.append", "audio": _b64(pcm)})
        # Muted, or while a fixture plays, the model hears silence; sidebands hear the input.
        heard = bytes(len(pcm)) if self.muted or self.speaker.fixture_playing else pcm
        await self.model.hear(heard)
        self.stats["max_input_level"] = self.model.vad.loudest

    async def emit_audio(self, pcm: bytes, start_ms: int, end_ms: int) -> None:
        """Send a chunk of the model's voice to the connections that hear it as events."""
        for connection in list(self.connections):
            if connection.kind == "websocket":
                delta = audio.from_internal(pcm, input_format(self.session))
                await connection.send({"type": "session.output_audio.delta", "delta": _b64(delta)})
            elif connection.kind == "sideband":
                await connection.send(
                    {
                        "type": "session.output_audio.delta",
                        "delta": _b64(pcm),
                        "start_ms": start_ms,
                        "end_ms": end_ms,
                    }
                )

    def take_heard(self) -> str | None:
        """Return what a test said the next utterance is, if it said."""
        for queue in (self.heard, self._shared_heard):
            if queue:
                return queue.popleft()
        return None

    # --- sending ----------------------------------------------------------------------------

    async def emit(
        self,
        event: dict[str, Any],
        client_event_id: str | None = None,
        *,
        to: Connection | None = None,
    ) -> None:
        """Send a server event to every connection (or one); audio events carry no event_id."""
        if event["type"] not in {"session.input_audio.append", "session.output_audio.delta"}:
            event = {"type": event["type"], "event_id": ids.event_id(), **event}
        if client_event_id is not None:
            event["client_event_id"] = client_event_id
        for connection in [to] if to is not None else list(self.connections):
            await connection.send(event)

    async def emit_error(
        self, error: ApiError, client_event_id: str | None, origin: Connection | None
    ) -> None:
        """Send an ``error`` to the connection whose command caused it, and to sidebands."""
        event = error_event(error, client_event_id)
        for connection in list(self.connections):
            if connection is origin or connection.kind == "sideband" or origin is None:
                await connection.send(event)

    def serialise(self, event: dict[str, Any], union: str) -> str:
        if self.settings.check_live_event is not None:
            self.settings.check_live_event(event, union)
        return json.dumps(event, separators=(",", ":"))

    # --- usage and the end ------------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        """Return the cumulative usage: whole seconds, a started second counting."""
        seconds = max(math.ceil(time.monotonic() - self.started), self.prepaid_seconds)
        usage: dict[str, Any] = {"seconds": seconds, "active_seconds": seconds}
        if self.transport == "webrtc":
            usage["paused_seconds"] = 0  # the emulator never pauses a session
        return usage

    async def _report_usage(self) -> None:
        while True:
            await asyncio.sleep(self.settings.live_usage_seconds)
            await self.emit({"type": "session.usage.updated", "usage": self.usage()})

    async def _expire_when_due(self) -> None:
        await asyncio.sleep(self.session["expires_at"] - time.time())
        await self.end("expired")

    async def end(self, reason: str, client_event_id: str | None = None) -> None:
        """Finish the session: ``session.closed`` to everyone, then close every connection."""
        if self.closed:
            return
        self.closed = True
        self._stop_background()
        await self.emit(
            {
                "type": "session.closed",
                "reason": reason,
                "session": self.session,
                "usage": self.usage(),
            },
            client_event_id,
        )
        await self._close(1000)

    async def shutdown(self) -> None:
        """End without finalising, as the service going away would: no ``session.closed``."""
        if self.closed:
            return
        self.closed = True
        self._stop_background()
        await self._close(1001)

    async def _close(self, code: int) -> None:
        for connection in list(self.connections):
            if connection.output is not None:
                await connection.output.close(code, "")
        self.connections.clear()
        for callback in self.on_close:
            await callback()

    def _stop_background(self) -> None:
        current = asyncio.current_task()
        for task in list(self._background):
            if task is not current:
                task.cancel()

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task:
        """Run ``coroutine`` in the background until it ends or the session ends."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task

    def summary(self) -> dict[str, Any]:
        """Return what the control API shows of a live session."""
        return {
            "transport": self.transport,
            "model": self.session["model"],
            "delegation": self.session["delegation"]["type"],
            "connections": sorted(connection.kind for connection in self.connections),
            "audio_received_ms": self.stats["audio_in_ms"],
            "max_input_level": self.stats["max_input_level"],
            "position_ms": self.position_ms,
            "turns": self.model.turns,
            "replies": self.speaker.replies,
            "muted": self.muted,
            "usage": self.usage(),
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("live emulator task failed", exc_info=task.exception())
