"""One realtime session, run the way the model runs it.

The conversation is transport-independent: client events arrive as text through
``handle``, microphone audio through ``feed_audio`` (already in the internal format, PCM16
mono 24 kHz), and server events leave through every attached output (a WebSocket, a WebRTC
data channel, sideband sockets). On WebRTC the reply's audio goes to the call's outgoing
track instead of ``response.output_audio.delta`` events.

The "model" is deterministic, so tests can tell a real round trip from silence:

- an audio turn is answered "I heard N.N seconds of audio." (N.N the committed speech), and
  its input transcription reads "(N.N seconds of speech)";
- a text turn is answered 'You said: "<text>".';
- with function tools in the session, a user text that names a tool (case-insensitive,
  whole word) makes the response a call to that tool (``tool_choice`` "required" calls the
  first tool, "none" never calls one); its arguments give every string property of the
  tool's parameters the user's text with the tool's name removed, numbers 0, booleans false.
  After the client adds the ``function_call_output`` and sends ``response.create``, the
  answer is 'The <name> tool returned: <output>.';
- after ``idle_timeout_ms`` of input audio with no speech since the last response, the
  silent stretch is committed (``input_audio_buffer.timeout_triggered``) and answered
  "Are you still there?";
- the reply's audio is speech-like synthesis whose length follows the transcript.

Token usage follows the lengths: text is one token per 4 characters (rounded up), input audio
one token per 100 ms, output audio one token per 50 ms.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from realtime.emulator import audio, ids, schema
from realtime.emulator.errors import ApiError

logger = logging.getLogger(__name__)

MIN_COMMIT_MS = 100
RATE_LIMIT_TOKENS = 40_000
RATE_LIMITS_DELAY_S = 0.04  # rate_limits.updated trails response.done by ~40 ms
SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "high": 250, "auto": 500}
MAX_APPEND_BYTES = 15 * 1024 * 1024
# Silence kept before speech beyond the prefix padding, covering the VAD's onset; older
# silence can never join a speech item, so it is forgotten (a muted call stays small).
KEEP_BEFORE_SPEECH_MS = 1000


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


@dataclass
class ActiveResponse:
    id: str
    cancel_reason: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class Conversation:
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
        self.items: dict[str, dict[str, Any]] = {}  # insertion-ordered, like the conversation
        self.item_audio_ms: dict[str, float] = {}  # each item's audio: usage, truncate
        self.input_buffer = bytearray()
        self.buffer_started_ms = 0  # session-timeline position of input_buffer[0]
        self.speech_item_id: str | None = None
        self.idle_since_ms: int | None = None  # audio position since which nobody has spoken
        self.idle_items: set[str] = set()  # user items committed by the idle timeout
        self.response: ActiveResponse | None = None
        self.assistant_audio_sent = False
        self.playing_response_id: str | None = None  # whose audio is on the WebRTC track
        self.tokens_used = 0
        self.started = time.time()
        self.closed = False
        self.on_close: list[Callable[[], Awaitable[None]]] = []
        self.stats = {"audio_in_ms": 0.0, "max_input_level": 0.0, "turns": 0, "responses": 0}
        self._background: set[asyncio.Task] = set()
        self.vad = self._new_vad()
        self._spawn(self._expire_when_due())

    # --- lifecycle --------------------------------------------------------------------

    def attach(self, output: Output) -> None:
        self.outputs.append(output)

    def detach(self, output: Output) -> None:
        if output in self.outputs:
            self.outputs.remove(output)

    async def greet(self, output: Output) -> None:
        """``session.created`` to one output: the first thing a connection hears."""
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
        """What the control API shows of a live session."""
        return {
            "transport": self.transport,
            "type": self.session.get("type"),
            "model": self.session.get("model"),
            "items": len(self.items),
            "outputs": len(self.outputs),
            "responding": self.response is not None,
            **self.stats,
        }

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
        return json.dumps(event)

    async def emit_error(self, error: ApiError, client_event_id: str | None) -> None:
        await self.emit(error.event(ids.event_id(), client_event_id))

    # --- client events --------------------------------------------------------------------

    async def handle(self, message: str | bytes) -> None:
        """One client message, as the service treats it: errors are events, never fatal."""
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
        except ValueError as error:
            self._told({"invalid_json": message[:200]})
            await self.emit_error(
                ApiError(
                    f"Invalid event: failed to parse JSON value. {error}.", code="invalid_json"
                ),
                None,
            )
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
                await self._append(event)  # the hot path: 50 per second per session
                return
            schema.validate_client_event(event)
            await HANDLERS[event["type"]](self, event)
        except ApiError as error:
            await self.emit_error(error, client_event_id)

    def _told(self, event: Any) -> None:
        if self.on_client_event is not None:
            self.on_client_event(event)

    async def _session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        if (
            isinstance(update, dict)
            and self.assistant_audio_sent
            and _voice(update) not in (None, _voice(self.session))
        ):
            raise ApiError(
                "Cannot update a conversation's voice if assistant audio is present.",
                code="cannot_update_voice",
                param="session.audio.output.voice",
            )
        before = self._turn_detection()
        self.session = schema.apply_session_update(self.session, update)
        if self._turn_detection() != before:
            self.vad = self._new_vad(position_ms=self.vad.position_ms)
        await self.emit({"type": "session.updated", "session": self.session})

    async def _append(self, event: dict[str, Any]) -> None:
        encoded = event["audio"]
        if not isinstance(encoded, str):
            raise ApiError(
                "Invalid type for 'audio': expected a string, but got "
                f"{schema.json_type(encoded)} instead.",
                code="invalid_type",
                param="audio",
            )
        if len(encoded) > MAX_APPEND_BYTES:
            raise ApiError(
                "Invalid 'audio': string too long. Expected a string with maximum length "
                f"{MAX_APPEND_BYTES}, but got a string with length {len(encoded)} instead.",
                code="string_above_max_length",
                param="audio",
            )
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                "Invalid 'audio'. Expected base64-encoded audio data.",
                code="invalid_value",
                param="audio",
            ) from None
        await self.feed_audio(audio.to_internal(data, self._input_format()))

    async def _commit(self, event: dict[str, Any]) -> None:
        buffered_ms = audio.duration_ms(self.input_buffer)
        if buffered_ms < MIN_COMMIT_MS:
            raise ApiError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        await self._commit_buffer(self.speech_item_id or ids.item_id(), buffered_ms)

    async def _clear(self, event: dict[str, Any]) -> None:
        self._drop_buffer()
        self.vad.reset()
        self.speech_item_id = None
        await self.emit({"type": "input_audio_buffer.cleared"})

    async def _item_create(self, event: dict[str, Any]) -> None:
        item = schema.validate_item(event["item"])
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.items:
            raise ApiError(
                f"Previous item with id '{previous}' not found.",
                code="item_not_found",
                param="previous_item_id",
            )
        if item.get("id") in self.items:
            raise ApiError(
                f"Item with id '{item['id']}' already exists.",
                code="item_already_exists",
                param="item.id",
            )
        item = {"id": item.get("id") or ids.item_id(), **item}
        item.pop("object", None)
        item["status"] = "completed"
        if item["type"] == "message":
            item["content"] = [_stored_part(part) for part in item.get("content", [])]
        after = {None: self._last_item_id(), "root": None}.get(previous, previous)
        await self._add_item(item, previous_item_id=after)

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._find_item(event["item_id"], "item_id")
        await self.emit({"type": "conversation.item.retrieved", "item": item})

    async def _item_truncate(self, event: dict[str, Any]) -> None:
        item = self._find_item(event["item_id"], "item_id")
        audio_end_ms = event["audio_end_ms"]
        if not isinstance(audio_end_ms, int) or isinstance(audio_end_ms, bool):
            raise ApiError(
                "Invalid type for 'audio_end_ms': expected an integer, but got "
                f"{schema.json_type(audio_end_ms)} instead.",
                code="invalid_type",
                param="audio_end_ms",
            )
        available = self.item_audio_ms.get(item["id"])
        if item.get("role") != "assistant" or available is None:
            raise ApiError(
                f"Only assistant messages with audio can be truncated; item '{item['id']}' "
                "has no assistant audio.",
                code="invalid_value",
                param="item_id",
            )
        if audio_end_ms > math.ceil(available):
            raise ApiError(
                f"Audio content of {math.ceil(available)}ms is shorter than {audio_end_ms}ms.",
                code="invalid_value",
                param="audio_end_ms",
            )
        self.item_audio_ms[item["id"]] = audio_end_ms
        # Truncating deletes the server-side transcript: no text the user never heard.
        for part in item.get("content", []):
            if part.get("type") == "output_audio":
                part["transcript"] = ""
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item["id"],
                "content_index": event["content_index"],
                "audio_end_ms": audio_end_ms,
            }
        )

    async def _item_delete(self, event: dict[str, Any]) -> None:
        item = self._find_item(event["item_id"], "item_id")
        del self.items[item["id"]]
        await self.emit({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def _response_create(self, event: dict[str, Any]) -> None:
        if self.session.get("type") == "transcription":
            raise ApiError(
                "Responses are not supported in transcription sessions.",
                code="invalid_request_error",
            )
        params = schema.validate_response_create(event.get("response"))
        if self.response is not None and params.get("conversation", "auto") != "none":
            raise ApiError(
                "Conversation already has an active response in progress: "
                f"{self.response.id}. Wait until the response is finished before creating "
                "a new one.",
                code="conversation_already_has_active_response",
            )
        self.start_response(params)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.response is None or (wanted and wanted != self.response.id):
            raise ApiError(
                "Cancellation failed: no active response found.",
                code="response_cancel_not_active",
            )
        self.response.cancel_reason = "client_cancelled"
        self.response.cancelled.set()

    async def _output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        if self.transport != "webrtc":
            raise ApiError(
                "output_audio_buffer.clear is only supported for WebRTC sessions.",
                code="invalid_value",
                param="type",
            )
        await self._clear_playback()

    # --- audio in -------------------------------------------------------------------------

    async def feed_audio(self, pcm: bytes) -> None:
        """Microphone audio in the internal format, from a WebSocket append or a WebRTC track."""
        self.stats["audio_in_ms"] += audio.duration_ms(pcm)
        self.input_buffer += pcm
        # The detector always listens (it keeps the audio clock and the level); its verdicts
        # count only when turn detection is on.
        changes = self.vad.feed(pcm)
        self.stats["max_input_level"] = self.vad.loudest
        if not self._vad_enabled():
            return
        for change in changes:
            if isinstance(change, audio.SpeechStarted):
                await self._speech_started(change.audio_start_ms)
            else:
                await self._speech_stopped(change.audio_end_ms)
        if not self.vad.in_speech:
            keep_ms = self._turn_detection().get("prefix_padding_ms", 300) + KEEP_BEFORE_SPEECH_MS
            if audio.duration_ms(self.input_buffer) > 2 * keep_ms:  # trim now and then, not always
                self._drop_buffer(until_ms=self.vad.position_ms - keep_ms)
        await self._check_idle()

    async def _check_idle(self) -> None:
        timeout_ms = self._turn_detection().get("idle_timeout_ms")
        if (
            not timeout_ms
            or self.idle_since_ms is None
            or self.vad.in_speech
            or self.response is not None
            or self.vad.position_ms - self.idle_since_ms < timeout_ms
        ):
            return
        start_ms, end_ms = self.idle_since_ms, self.vad.position_ms
        self.idle_since_ms = None
        item_id = ids.item_id()
        self.idle_items.add(item_id)
        await self.emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": start_ms,
                "audio_end_ms": end_ms,
                "item_id": item_id,
            }
        )
        await self._commit_buffer(item_id, end_ms - start_ms)
        self.start_response({})

    async def _speech_started(self, audio_start_ms: int) -> None:
        self.speech_item_id = ids.item_id()
        self.idle_since_ms = None
        # Keep only the prefix padding before speech in the buffer, as the service does.
        self._drop_buffer(until_ms=audio_start_ms)
        await self.emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": self.speech_item_id,
            }
        )
        turn_detection = self._turn_detection()
        if turn_detection.get("interrupt_response", True):
            if self.response is not None:
                self.response.cancel_reason = "turn_detected"
                self.response.cancelled.set()
            if self.transport == "webrtc":
                await self._clear_playback()

    async def _speech_stopped(self, audio_end_ms: int) -> None:
        item_id = self.speech_item_id or ids.item_id()
        await self.emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            }
        )
        speech_ms = audio_end_ms - self.buffer_started_ms
        await self._commit_buffer(item_id, speech_ms)
        if (
            self.session.get("type") == "realtime"
            and self._turn_detection().get("create_response", True)
            and self.response is None
        ):
            self.start_response({})

    async def _commit_buffer(self, item_id: str, speech_ms: float) -> None:
        previous = self._last_item_id()
        self._drop_buffer()
        self.vad.reset()
        self.speech_item_id = None
        await self.emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.item_audio_ms[item_id] = speech_ms
        self.stats["turns"] += 1
        await self._add_item(item, previous_item_id=previous)
        if self._transcription_model():
            self._spawn(self._transcribe(item, speech_ms))

    async def _transcribe(self, item: dict[str, Any], speech_ms: float) -> None:
        """The user's words, as the transcription model would send them: deltas, then done."""
        transcript = f"({speech_ms / 1000:.1f} seconds of speech)"
        for word in _words(transcript):
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item["id"],
                    "content_index": 0,
                    "delta": word,
                    "obfuscation": _obfuscation(),
                }
            )
        item["content"][0]["transcript"] = transcript
        input_tokens = _audio_tokens_in(speech_ms)
        output_tokens = _text_tokens(transcript)
        await self.emit(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item["id"],
                "content_index": 0,
                "transcript": transcript,
                "usage": {
                    "type": "tokens",
                    "total_tokens": input_tokens + output_tokens,
                    "input_tokens": input_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": input_tokens},
                    "output_tokens": output_tokens,
                },
            }
        )

    # --- responses ------------------------------------------------------------------------

    def start_response(self, params: dict[str, Any]) -> None:
        response = ActiveResponse(id=ids.response_id())
        self.response = response
        self._spawn(self._respond(response, params))

    async def _respond(self, response: ActiveResponse, params: dict[str, Any]) -> None:
        modalities = params.get("output_modalities") or self.session.get(
            "output_modalities", ["audio"]
        )
        output_audio = dict(self.session.get("audio", {}).get("output", {}))
        output_audio.update(params.get("audio", {}).get("output", {}))
        shell = {
            "object": "realtime.response",
            "id": response.id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self.conversation_id,
            "output_modalities": modalities,
            "max_output_tokens": params.get(
                "max_output_tokens", self.session.get("max_output_tokens", "inf")
            ),
            "audio": {
                "output": {"format": output_audio.get("format"), "voice": output_audio.get("voice")}
            },
            "usage": None,
            "metadata": params.get("metadata"),
        }
        await self.emit({"type": "response.created", "response": shell})
        tool = self._tool_to_call(params)
        if tool is not None:
            item = await self._call_tool(response, tool)
        else:
            item = await self._speak(response, modalities, output_audio)
        status = "cancelled" if response.cancel_reason else "completed"
        shell.update(
            status=status,
            status_details=(
                {"type": "cancelled", "reason": response.cancel_reason}
                if response.cancel_reason
                else None
            ),
            output=[item],
            usage=self._usage(item),
        )
        self.response = None
        self.stats["responses"] += 1
        self.idle_since_ms = self.vad.position_ms
        await self.emit({"type": "response.done", "response": shell})
        await asyncio.sleep(RATE_LIMITS_DELAY_S)
        await self.emit(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {
                        "name": "tokens",
                        "limit": RATE_LIMIT_TOKENS,
                        "remaining": max(0, RATE_LIMIT_TOKENS - self.tokens_used),
                        "reset_seconds": round(self.tokens_used / RATE_LIMIT_TOKENS * 60, 3),
                    }
                ],
            }
        )

    async def _speak(
        self, response: ActiveResponse, modalities: list[str], output_audio: dict[str, Any]
    ) -> dict[str, Any]:
        with_audio = modalities == ["audio"]
        text = self._reply_text()
        item = {
            "id": ids.item_id(),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        where = {"response_id": response.id, "item_id": item["id"], "output_index": 0}
        previous = await self._open_output_item(response, item)
        empty_part = (
            {"type": "audio", "transcript": ""} if with_audio else {"type": "text", "text": ""}
        )
        await self.emit(
            {"type": "response.content_part.added", **where, "content_index": 0, "part": empty_part}
        )
        if with_audio:
            spoken, played_ms = await self._stream_audio(response, text, where, output_audio)
        else:
            spoken = await self._stream_text(response, text, where)
            played_ms = None
        final_status = "incomplete" if response.cancel_reason else "completed"
        if with_audio:
            await self.emit({"type": "response.output_audio.done", **where, "content_index": 0})
            await self.emit(
                {
                    "type": "response.output_audio_transcript.done",
                    **where,
                    "content_index": 0,
                    "transcript": spoken,
                }
            )
            part = {"type": "audio", "transcript": spoken}
            stored = {"type": "output_audio", "transcript": spoken}
            self.item_audio_ms[item["id"]] = played_ms or 0.0
        else:
            await self.emit(
                {"type": "response.output_text.done", **where, "content_index": 0, "text": spoken}
            )
            part = {"type": "text", "text": spoken}
            stored = {"type": "output_text", "text": spoken}
        await self.emit(
            {"type": "response.content_part.done", **where, "content_index": 0, "part": part}
        )
        item.update(status=final_status, content=[stored])
        await self._close_output_item(response, item, previous)
        return item

    async def _stream_audio(
        self,
        response: ActiveResponse,
        text: str,
        where: dict[str, Any],
        output_audio: dict[str, Any],
    ) -> tuple[str, float]:
        """Transcript deltas interleaved with audio: deltas over WebSocket, the track on WebRTC.

        Returns the transcript actually spoken and the milliseconds of audio sent.
        """
        pcm = audio.synthesize_speech(text)
        words = _words(text)
        chunk_bytes = self.settings.audio_chunk_ms * audio.BYTES_PER_MS
        chunks = [pcm[start : start + chunk_bytes] for start in range(0, len(pcm), chunk_bytes)]
        spoken_words: list[str] = []
        sent_ms = 0.0
        if self.transport == "webrtc":
            await self.emit({"type": "output_audio_buffer.started", "response_id": response.id})
        started = time.monotonic()
        for index, chunk in enumerate(chunks):
            if response.cancel_reason:
                break
            # Words follow the audio: by the end of each chunk, its share of the words.
            due = math.ceil(len(words) * (index + 1) / len(chunks))
            while len(spoken_words) < due:
                word = words[len(spoken_words)]
                spoken_words.append(word)
                await self.emit(
                    {
                        "type": "response.output_audio_transcript.delta",
                        **where,
                        "content_index": 0,
                        "delta": word,
                        "obfuscation": _obfuscation(),
                    }
                )
            if self.transport == "webrtc" and self.audio_sink is not None:
                self.audio_sink.play(chunk)
                self.playing_response_id = response.id
            else:
                await self.emit(
                    {
                        "type": "response.output_audio.delta",
                        **where,
                        "content_index": 0,
                        "delta": base64.b64encode(
                            audio.from_internal(chunk, output_audio["format"])
                        ).decode(),
                    }
                )
            self.assistant_audio_sent = True
            sent_ms += audio.duration_ms(chunk)
            # Pace like a model that speaks as it generates, and wake at once on a cancel.
            wake_at = started + sent_ms / 1000 / self.settings.pace
            delay = wake_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(response.cancelled.wait(), delay)
        return "".join(spoken_words), sent_ms

    async def _stream_text(self, response: ActiveResponse, text: str, where: dict[str, Any]) -> str:
        spoken: list[str] = []
        for word in _words(text):
            if response.cancel_reason:
                break
            spoken.append(word)
            await self.emit(
                {
                    "type": "response.output_text.delta",
                    **where,
                    "content_index": 0,
                    "delta": word,
                    "obfuscation": _obfuscation(),
                }
            )
            await asyncio.sleep(0)
        return "".join(spoken)

    async def _call_tool(self, response: ActiveResponse, tool: dict[str, Any]) -> dict[str, Any]:
        arguments = json.dumps(_tool_arguments(tool, self._last_user_text()))
        item = {
            "id": ids.item_id(),
            "type": "function_call",
            "status": "in_progress",
            "name": tool["name"],
            "call_id": ids.function_call_id(),
            "arguments": "",
        }
        where = {"response_id": response.id, "item_id": item["id"], "output_index": 0}
        previous = await self._open_output_item(response, item)
        for piece in _pieces(arguments, 16):
            await self.emit(
                {
                    "type": "response.function_call_arguments.delta",
                    **where,
                    "call_id": item["call_id"],
                    "delta": piece,
                }
            )
        await self.emit(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": arguments,
            }
        )
        item.update(status="completed", arguments=arguments)
        await self._close_output_item(response, item, previous)
        return item

    async def _open_output_item(self, response: ActiveResponse, item: dict[str, Any]) -> str | None:
        """Announce a response's output item (the service sends it to the response first, then
        to the conversation); returns the item it follows."""
        previous = self._last_item_id()
        announced = dict(item, content=[]) if item["type"] == "message" else dict(item)
        await self.emit(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": 0,
                "item": announced,
            }
        )
        self.items[item["id"]] = item
        await self.emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": announced}
        )
        return previous

    async def _close_output_item(
        self, response: ActiveResponse, item: dict[str, Any], previous: str | None
    ) -> None:
        """Finish an output item: the conversation hears first, then the response (as observed)."""
        await self.emit(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )
        await self.emit(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": 0,
                "item": item,
            }
        )

    async def _clear_playback(self) -> None:
        if self.audio_sink is not None and self.audio_sink.clear() and self.playing_response_id:
            response_id, self.playing_response_id = self.playing_response_id, None
            await self.emit({"type": "output_audio_buffer.cleared", "response_id": response_id})

    async def playback_stopped(self) -> None:
        """The WebRTC track drained: the user has heard all of the reply."""
        if self.idle_since_ms is not None:
            self.idle_since_ms = self.vad.position_ms  # idle counts from the end of playback
        if self.playing_response_id:
            response_id, self.playing_response_id = self.playing_response_id, None
            await self.emit({"type": "output_audio_buffer.stopped", "response_id": response_id})

    # --- the deterministic "model" -------------------------------------------------------

    def _reply_text(self) -> str:
        last = self._last_user_or_tool_item()
        if last is None:
            return "How can I help?"
        if last["type"] == "function_call_output":
            call = next(
                (
                    item
                    for item in self.items.values()
                    if item.get("type") == "function_call"
                    and item.get("call_id") == last["call_id"]
                ),
                None,
            )
            name = call["name"] if call else "function"
            return f"The {name} tool returned: {last.get('output', '')}."
        text = _message_text(last)
        if text is not None:
            return f'You said: "{text}".'
        if last["id"] in self.idle_items:
            return "Are you still there?"
        seconds = self.item_audio_ms.get(last["id"], 0) / 1000
        return f"I heard {seconds:.1f} seconds of audio."

    def _tool_to_call(self, params: dict[str, Any]) -> dict[str, Any] | None:
        tools = [
            tool
            for tool in params.get("tools", self.session.get("tools") or [])
            if tool.get("type") == "function"
        ]
        choice = params.get("tool_choice", self.session.get("tool_choice", "auto"))
        last = self._last_user_or_tool_item()
        if not tools or choice == "none" or last is None or last["type"] != "message":
            return None
        if isinstance(choice, dict):
            return next((tool for tool in tools if tool["name"] == choice.get("name")), None)
        if choice == "required":
            return tools[0]
        text = (_message_text(last) or "").lower()
        return next(
            (tool for tool in tools if re.search(rf"\b{re.escape(tool['name'].lower())}\b", text)),
            None,
        )

    def _usage(self, item: dict[str, Any]) -> dict[str, Any]:
        context_text = "".join(
            _message_text(entry) or "" for entry in self.items.values() if entry is not item
        ) + str(self.session.get("instructions") or "")
        input_text = _text_tokens(context_text)
        input_audio = sum(
            _audio_tokens_in(ms)
            for item_id, ms in self.item_audio_ms.items()
            if self.items.get(item_id, {}).get("role") == "user"
        )
        if item["type"] == "function_call":
            output_text, output_audio = _text_tokens(item["arguments"]), 0
        else:
            part = item["content"][0] if item["content"] else {}
            output_text = _text_tokens(part.get("transcript") or part.get("text") or "")
            output_audio = _audio_tokens_out(self.item_audio_ms.get(item["id"], 0))
        cached = (input_text + input_audio) // 2
        total = input_text + input_audio + output_text + output_audio
        self.tokens_used += total
        return {
            "total_tokens": total,
            "input_tokens": input_text + input_audio,
            "output_tokens": output_text + output_audio,
            "input_token_details": {
                "text_tokens": input_text,
                "audio_tokens": input_audio,
                "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": min(cached, input_text),
                    "audio_tokens": cached - min(cached, input_text),
                    "image_tokens": 0,
                },
            },
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }

    # --- helpers ----------------------------------------------------------------------------

    async def _add_item(self, item: dict[str, Any], *, previous_item_id: str | None) -> None:
        """Insert after ``previous_item_id`` (None: at the start) and announce it."""
        if previous_item_id == self._last_item_id():
            self.items[item["id"]] = item  # the usual case: at the end
        else:
            order = list(self.items.items())
            at = 0 if previous_item_id is None else list(self.items).index(previous_item_id) + 1
            self.items = dict([*order[:at], (item["id"], item), *order[at:]])
        await self.emit(
            {"type": "conversation.item.added", "previous_item_id": previous_item_id, "item": item}
        )
        await self.emit(
            {"type": "conversation.item.done", "previous_item_id": previous_item_id, "item": item}
        )

    def _find_item(self, item_id: Any, param: str) -> dict[str, Any]:
        item = self.items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise ApiError(
                f"Item with item_id '{item_id}' not found.", code="item_not_found", param=param
            )
        return item

    def _last_item_id(self) -> str | None:
        return next(reversed(self.items), None)

    def _last_user_or_tool_item(self) -> dict[str, Any] | None:
        for item in reversed(self.items.values()):
            if item.get("role") == "user" or item.get("type") == "function_call_output":
                return item
        return None

    def _last_user_text(self) -> str:
        last = self._last_user_or_tool_item()
        return (_message_text(last) or "") if last else ""

    def _drop_buffer(self, until_ms: float | None = None) -> None:
        """Forget buffered input audio, all of it or up to a session-timeline position."""
        if until_ms is None:
            until_ms = self.buffer_started_ms + audio.duration_ms(self.input_buffer)
        cut = max(0, int((until_ms - self.buffer_started_ms) * audio.BYTES_PER_MS))
        cut -= cut % 2
        del self.input_buffer[:cut]
        self.buffer_started_ms = until_ms

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task

    def _turn_detection(self) -> dict[str, Any]:
        return self.session.get("audio", {}).get("input", {}).get("turn_detection") or {}

    def _vad_enabled(self) -> bool:
        return bool(self._turn_detection())

    def _new_vad(self, position_ms: int = 0) -> audio.VoiceActivityDetector:
        """A detector for the current settings; the session's audio clock carries on."""
        settings = self._turn_detection()
        if settings.get("type") == "semantic_vad":
            silence = SEMANTIC_SILENCE_MS[settings.get("eagerness", "auto")]
            return audio.VoiceActivityDetector(silence_duration_ms=silence, position_ms=position_ms)
        return audio.VoiceActivityDetector(
            threshold=settings.get("threshold", 0.5),
            prefix_padding_ms=settings.get("prefix_padding_ms", 300),
            silence_duration_ms=settings.get("silence_duration_ms", 200),
            position_ms=position_ms,
        )

    def _input_format(self) -> dict[str, Any]:
        return self.session.get("audio", {}).get("input", {}).get("format") or {
            "type": "audio/pcm",
            "rate": audio.SAMPLE_RATE,
        }

    def _transcription_model(self) -> str | None:
        transcription = self.session.get("audio", {}).get("input", {}).get("transcription")
        return transcription.get("model") if transcription else None


HANDLERS: dict[str, Callable[[Conversation, dict[str, Any]], Awaitable[None]]] = {
    "session.update": Conversation._session_update,
    "input_audio_buffer.append": Conversation._append,
    "input_audio_buffer.commit": Conversation._commit,
    "input_audio_buffer.clear": Conversation._clear,
    "conversation.item.create": Conversation._item_create,
    "conversation.item.retrieve": Conversation._item_retrieve,
    "conversation.item.truncate": Conversation._item_truncate,
    "conversation.item.delete": Conversation._item_delete,
    "response.create": Conversation._response_create,
    "response.cancel": Conversation._response_cancel,
    "output_audio_buffer.clear": Conversation._output_audio_buffer_clear,
}


def _is_plain_append(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("type") == "input_audio_buffer.append"
        and "audio" in event
        and len(event) <= 3
        and (len(event) == 2 or "event_id" in event)
    )


def _voice(session: dict[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


def _message_text(item: dict[str, Any] | None) -> str | None:
    if not item or item.get("type") != "message":
        return None
    texts = [
        part.get("text") or part.get("transcript")
        for part in item.get("content", [])
        if part.get("type") in {"input_text", "output_text", "output_audio"}
        or (part.get("type") == "input_audio" and part.get("transcript"))
    ]
    texts = [text for text in texts if text]
    return " ".join(texts) if texts else None


def _stored_part(part: dict[str, Any]) -> dict[str, Any]:
    """What the conversation keeps of a content part: not the audio bytes themselves."""
    if part.get("type") == "input_audio":
        return {"type": "input_audio", "transcript": part.get("transcript")}
    return dict(part)


def _tool_arguments(tool: dict[str, Any], user_text: str) -> dict[str, Any]:
    mention = re.sub(rf"\b{re.escape(tool['name'])}\b", "", user_text, flags=re.IGNORECASE)
    mention = " ".join(mention.split())
    defaults = {"string": mention, "number": 0, "integer": 0, "boolean": False}
    properties = (tool.get("parameters") or {}).get("properties") or {}
    return {
        name: defaults.get(spec.get("type"))
        for name, spec in properties.items()
        if isinstance(spec, dict) and spec.get("type") in defaults
    }


def _words(text: str) -> list[str]:
    """Split into deltas the way the service streams them: each word with its leading space."""
    return re.findall(r"\s*\S+", text)


def _pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def _obfuscation() -> str:
    return secrets.token_urlsafe(9)


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _audio_tokens_in(ms: float) -> int:
    return math.ceil(ms / 100)


def _audio_tokens_out(ms: float) -> int:
    return math.ceil(ms / 50)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("emulator task failed", exc_info=task.exception())
