"""Answer a Live session's client events: check each as the service does, then act on it.

Errors are events, never fatal: an ``error`` (with the command's ``event_id`` as
``client_event_id``, at the top and inside ``error``) goes to the connection that sent it,
and to sidebands. Each kind of connection may send its own events (see
:mod:`~realtime.emulator.live.schema`); any other type is answered with the list of the
ones it may send. The decision API is not emulated: its commands are refused. Context
appended with no delegation is, by an emulator rule, a turn the model answers (see
:mod:`~realtime.emulator.live.model`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from realtime.emulator import audio, usage
from realtime.emulator.errors import ApiError
from realtime.emulator.live import events, schema
from realtime.emulator.live.resource import apply_update, input_format
from realtime.emulator.live.speech import MAX_FIXTURE_MS
from realtime.emulator.spec import Str, invalid_type

if TYPE_CHECKING:
    from realtime.emulator.live.connection import Connection
    from realtime.emulator.live.session import LiveSession

Handler = Callable[[dict[str, Any], "Connection"], Awaitable[None]]
MAX_CONTENT_TOKENS = 500


class Commands:
    """The dispatch of one Live session's client events."""

    def __init__(self, session: LiveSession) -> None:
        self._session = session
        self._handlers: dict[str, Handler] = {
            "session.start": self._start,
            "session.update": self._update,
            "session.input_audio.append": self._append_audio,
            "session.input_audio.mute": self._mute,
            "session.input_audio.unmute": self._mute,
            "session.output_audio.fixture.play": self._play_fixture,
            "session.instructions.append": self._append_context,
            "session.thinking.append": self._append_context,
            "session.commentary.append": self._append_context,
            "decision.create": self._decision,
            "decision.item.create": self._decision,
            "decision.item.delete": self._decision,
            "response.item.create": self._response_item,
            "response.create": self._response,
            "session.close": self._close,
            "transport.dtmf.send": self._dtmf,
        }

    async def handle(self, message: str | bytes, connection: Connection) -> None:
        """Handle one client message from ``connection``."""
        session = self._session
        if isinstance(message, bytes):
            self._told({"binary_bytes": len(message)})
            error = ApiError("Expected a text message with a JSON event.", code="invalid_event")
            await session.emit_error(error, None, connection)
            return
        try:
            event = json.loads(message)
        except (ValueError, RecursionError) as problem:
            self._told({"invalid_json": message[:200]})
            error = ApiError(
                f"Invalid event: failed to parse JSON. {problem}.", code="invalid_json"
            )
            await session.emit_error(error, None, connection)
            return
        client_event_id = event.get("event_id") if isinstance(event, dict) else None
        if not isinstance(client_event_id, str):
            client_event_id = None
        if isinstance(event, dict) and isinstance(event.get("audio"), str):
            self._told(dict(event, audio=f"<{len(event['audio'])} base64 characters>"))
        else:
            self._told(event)
        try:
            events.validate_event(event, connection.client_events())
            await self._handlers[event["type"]](event, connection)
        except ApiError as error:
            await session.emit_error(error, client_event_id, connection)

    def _told(self, event: Any) -> None:
        if self._session.on_client_event is not None:
            self._session.on_client_event(event)

    # --- the session ------------------------------------------------------------------------

    async def _start(self, event: dict[str, Any], connection: Connection) -> None:
        # The socket answers the first session.start; any later one is refused here.
        raise ApiError(
            "The session has already started; session.start is accepted once, first.",
            code="session_already_started",
        )

    async def _update(self, event: dict[str, Any], connection: Connection) -> None:
        session = self._session
        session.session = apply_update(session.session, schema.validate_update(event["session"]))
        await session.emit(
            {"type": "session.updated", "session": session.session}, event.get("event_id")
        )

    async def _close(self, event: dict[str, Any], connection: Connection) -> None:
        # Shielded: ending closes the data channel, which cancels the task reading it (this
        # one), and the session must still finish ending.
        await asyncio.shield(self._session.end("close_requested", event.get("event_id")))

    # --- audio ------------------------------------------------------------------------------

    async def _append_audio(self, event: dict[str, Any], connection: Connection) -> None:
        data = _decode_audio(event["audio"])
        await self._session.feed_audio(audio.to_internal(data, input_format(self._session.session)))

    async def _mute(self, event: dict[str, Any], connection: Connection) -> None:
        muted = event["type"] == "session.input_audio.mute"
        self._session.muted = muted
        acknowledgement = "session.input_audio.muted" if muted else "session.input_audio.unmuted"
        await self._session.emit({"type": acknowledgement}, event.get("event_id"))

    async def _play_fixture(self, event: dict[str, Any], connection: Connection) -> None:
        pcm = _decode_audio(event["audio"])
        if len(pcm) % 2 or audio.duration_ms(pcm) > MAX_FIXTURE_MS:
            raise ApiError(
                "Invalid 'audio': expected mono PCM16 at 24 kHz, at most "
                f"{MAX_FIXTURE_MS // 1000} seconds.",
                code="invalid_value",
                param="audio",
            )
        if self._session.speaker.fixture_playing:
            raise ApiError("An audio fixture is already playing.", code="fixture_active")
        await self._session.speaker.play_fixture(pcm, event.get("event_id"))

    # --- context ----------------------------------------------------------------------------

    async def _append_context(self, event: dict[str, Any], connection: Connection) -> None:
        session = self._session
        content, delegation_id = event["content"], event["delegation_id"]
        if not isinstance(content, str):
            raise invalid_type("content", Str(), content)
        if usage.text_tokens(content) > MAX_CONTENT_TOKENS:
            raise ApiError(
                f"Invalid 'content': at most {MAX_CONTENT_TOKENS} tokens.",
                code="string_above_max_length",
                param="content",
            )
        if delegation_id is not None and delegation_id not in session.delegations:
            raise ApiError(
                f"No delegation found with id '{delegation_id}'.",
                code="invalid_value",
                param="delegation_id",
            )
        if session.speaker.fixture_playing:
            raise ApiError(
                "Context cannot be appended while an audio fixture plays.", code="fixture_active"
            )
        position = session.position_ms
        kind = event["type"].removesuffix(".append")
        await session.emit(
            {"type": f"{kind}.appended", "start_ms": position, "end_ms": position},
            event.get("event_id"),
        )
        if kind == "session.commentary":
            session.speaker.say(content)  # commentary is what the model tells the user
        elif kind == "session.instructions" and delegation_id is None:
            # A turn (see live.model), answered in the background as a heard one is, so the
            # client's audio keeps flowing while a delegation runs.
            session.spawn(session.model.take_context(content, position))

    # --- delegation ---------------------------------------------------------------------------

    async def _response_item(self, event: dict[str, Any], connection: Connection) -> None:
        await self._session.backend.add_item(event)

    async def _response(self, event: dict[str, Any], connection: Connection) -> None:
        await self._session.backend.create(event)

    async def _decision(self, event: dict[str, Any], connection: Connection) -> None:
        raise ApiError(
            "The emulator does not run the Decision API.", code="unsupported_event", param="type"
        )

    async def _dtmf(self, event: dict[str, Any], connection: Connection) -> None:
        raise ApiError(
            "transport.dtmf.send is supported only for SIP calls.", code="invalid_transport"
        )


def _decode_audio(encoded: Any) -> bytes:
    if not isinstance(encoded, str):
        raise invalid_type("audio", Str(), encoded)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            "Invalid 'audio'. Expected base64-encoded audio data.",
            code="invalid_value",
            param="audio",
        ) from None
