"""Run one realtime session: its lifecycle, its outputs and the dispatch of client events.

The conversation is transport-independent: client events arrive as text through
``handle``, microphone audio through ``feed_audio`` (already in the internal format, PCM16
mono 24 kHz), and server events leave through every attached output (a WebSocket, a WebRTC
data channel, sideband sockets). On WebRTC the reply's audio goes to the call's outgoing
track instead of ``response.output_audio.delta`` events.

Its parts hold their own state: :mod:`~realtime.emulator.items` the conversation's items,
:mod:`~realtime.emulator.turns` the input audio and the turns cut from it,
:mod:`~realtime.emulator.responses` the responses, whose words the deterministic "model" in
:mod:`~realtime.emulator.replies` decides and whose tokens :mod:`~realtime.emulator.usage`
counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from realtime.emulator import ids, schema, sessions
from realtime.emulator.errors import ApiError
from realtime.emulator.items import Items
from realtime.emulator.responses import Responses
from realtime.emulator.turns import Turns

logger = logging.getLogger(__name__)

# How deep a client event may nest arrays and objects. The service answers deeper ones with
# an invalid_json error and goes on; its own limit is not published, so this is
# serde_json's default recursion limit. Python's parser would give up (RecursionError)
# near a thousand, and the emulator's recursive checks before that.
MAX_NESTING = 128
TOO_DEEP = "Invalid event: failed to parse JSON value. recursion limit exceeded."


class Output(Protocol):
    """Somewhere server events go: a socket, a data channel."""

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class AudioSink(Protocol):
    """The WebRTC call's outgoing track: plays internal-format audio in real time."""

    def play(self, pcm: bytes) -> None: ...

    def clear(self) -> bool: ...  # True if audio was queued or playing


@dataclass
class Settings:
    """How this emulator behaves, beyond the protocol itself."""

    pace: float = 1.0  # 1.0 streams reply audio in real time; 4.0 four times faster
    audio_chunk_ms: int = 100  # audio per response.output_audio.delta
    session_seconds: int = 3600  # sessions end with session_expired after this
    check_event: Callable[[dict[str, Any]], None] | None = None  # fidelity judge, in tests
    live_usage_seconds: float = 15.0  # how often a Live session reports its usage
    # The Live judge: an event and the union it belongs to ("server" or "connect").
    check_live_event: Callable[[dict[str, Any], str], None] | None = None


class Conversation:
    """One realtime session, run the way the model runs it."""

    def __init__(
        self,
        session: dict[str, Any],
        *,
        transport: str,
        settings: Settings,
        audio_sink: AudioSink | None = None,
    ) -> None:
        self.session = session
        self.transport = transport
        self.settings = settings
        self.audio_sink = audio_sink
        self.outputs: list[Output] = []
        # Told each client event as parsed (audio elided): the emulator's record of arrivals.
        self.on_client_event: Callable[[Any], None] | None = None
        self.conversation_id = ids.conversation_id()
        self.started = time.time()
        self.closed = False
        self.on_close: list[Callable[[], Awaitable[None]]] = []
        self.stats = {"audio_in_ms": 0.0, "max_input_level": 0.0, "turns": 0, "responses": 0}
        self._background: set[asyncio.Task] = set()
        self.items = Items(self.emit)
        # Idle time counts from the end of each response; turns are built after responses.
        self.responses = Responses(
            self, self.items, on_finished=lambda: self.turns.start_idle_clock()
        )
        self.turns = Turns(self, self.items, self.responses)
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self.turns.append,
            "input_audio_buffer.commit": self.turns.commit,
            "input_audio_buffer.clear": self.turns.clear,
            "conversation.item.create": self.items.create,
            "conversation.item.retrieve": self.items.retrieve,
            "conversation.item.truncate": self.items.truncate,
            "conversation.item.delete": self.items.delete,
            "response.create": self.responses.create,
            "response.cancel": self.responses.cancel,
            "output_audio_buffer.clear": self.responses.clear_output_audio,
        }
        self.spawn(self._expire_when_due())

    # --- lifecycle --------------------------------------------------------------------

    def attach(self, output: Output) -> None:
        self.outputs.append(output)

    def detach(self, output: Output) -> None:
        if output in self.outputs:
            self.outputs.remove(output)

    async def greet(self, output: Output) -> None:
        """Send ``session.created`` to one output: the first thing a connection hears."""
        await self._send_to(output, {"type": "session.created", "session": self.session})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        current = asyncio.current_task()
        for task in list(self._background):
            if task is not current:
                task.cancel()
        for output in list(self.outputs):
            await output.close(code, reason)
        self.outputs.clear()
        for callback in self.on_close:
            await callback()

    def summary(self) -> dict[str, Any]:
        """Return what the control API shows of a live session."""
        return {
            "transport": self.transport,
            "type": self.session.get("type"),
            "model": self.session.get("model"),
            "items": len(self.items.by_id),
            "outputs": len(self.outputs),
            "responding": self.responses.active is not None,
            **self.stats,
        }

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task:
        """Run ``coroutine`` in the background until it ends or the conversation closes."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task

    async def _expire_when_due(self) -> None:
        await asyncio.sleep(self.started + self.settings.session_seconds - time.time())
        await self.emit_error(
            ApiError(
                f"Your session hit the maximum duration of "
                f"{self.settings.session_seconds // 60} minutes.",
                code="session_expired",
            ),
            None,
        )
        await self.close(1000, "session_expired")

    # --- sending ------------------------------------------------------------------------

    async def emit(self, event: dict[str, Any]) -> None:
        """Send a server event to every output."""
        text = self._serialise(event)
        for output in list(self.outputs):
            try:
                await output.send_text(text)
            except ConnectionError:
                self.detach(output)

    async def _send_to(self, output: Output, event: dict[str, Any]) -> None:
        try:
            await output.send_text(self._serialise(event))
        except ConnectionError:
            self.detach(output)

    def _serialise(self, event: dict[str, Any]) -> str:
        event = {"type": event["type"], "event_id": ids.event_id(), **event}
        if self.settings.check_event is not None:
            self.settings.check_event(event)
        return json.dumps(event, separators=(",", ":"))  # compact, as the service sends

    async def emit_error(self, error: ApiError, client_event_id: str | None) -> None:
        await self.emit(error.event(ids.event_id(), client_event_id))

    # --- what arrives -------------------------------------------------------------------

    async def handle(self, message: str | bytes) -> None:
        """Handle one client message as the service does: errors are events, never fatal."""
        if isinstance(message, bytes):
            self._told({"binary_bytes": len(message)})
            await self.emit_error(
                ApiError(
                    "Expected a text WebSocket message; binary frames are not supported.",
                    code="invalid_event",
                ),
                None,
            )
            return
        try:
            event = json.loads(message)
        except (ValueError, RecursionError) as error:
            self._told({"invalid_json": message[:200]})
            text = TOO_DEEP if isinstance(error, RecursionError) else None
            await self.emit_error(
                ApiError(
                    text or f"Invalid event: failed to parse JSON value. {error}.",
                    code="invalid_json",
                ),
                None,
            )
            return
        if not _is_plain_append(event) and _nests_deeper_than(event, MAX_NESTING):
            self._told({"invalid_json": message[:200]})
            await self.emit_error(ApiError(TOO_DEEP, code="invalid_json"), None)
            return
        client_event_id = event.get("event_id") if isinstance(event, dict) else None
        if not isinstance(client_event_id, str):
            client_event_id = None  # the error event's event_id is a string or null
        if isinstance(event, dict) and isinstance(event.get("audio"), str):
            self._told(dict(event, audio=f"<{len(event['audio'])} base64 characters>"))
        else:
            self._told(event)
        try:
            if _is_plain_append(event):
                await self.turns.append(event)  # the hot path: 50 per second per session
                return
            schema.validate_client_event(event)
            await self._handlers[event["type"]](event)
        except ApiError as error:
            await self.emit_error(error, client_event_id)

    async def feed_audio(self, pcm: bytes) -> None:
        """Take microphone audio (internal format) from a WebSocket append or a WebRTC track."""
        await self.turns.feed_audio(pcm)

    async def playback_stopped(self) -> None:
        """Note that the WebRTC track drained: the user has heard all of the reply."""
        self.turns.playback_stopped()
        await self.responses.playback_stopped()

    def _told(self, event: Any) -> None:
        if self.on_client_event is not None:
            self.on_client_event(event)

    async def _session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        if (
            isinstance(update, dict)
            and self.responses.assistant_audio_sent
            and _voice(update) not in (None, _voice(self.session))
        ):
            raise ApiError(
                "Cannot update a conversation's voice if assistant audio is present.",
                code="cannot_update_voice",
                param="session.audio.output.voice",
            )
        before = self.turns.turn_detection()
        self.session = sessions.apply_session_update(self.session, update)
        if self.turns.turn_detection() != before:
            self.turns.restart_vad()
        await self.emit({"type": "session.updated", "session": self.session})


def _is_plain_append(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("type") == "input_audio_buffer.append"
        and "audio" in event
        and len(event) <= 3
        and (len(event) == 2 or "event_id" in event)
    )


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` deep; level by level,
    never recursing, since the values it is for are too deep to recurse into."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _voice(session: dict[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("emulator task failed", exc_info=task.exception())
