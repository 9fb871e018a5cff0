"""Run the conversation's responses: speech, text or a tool call, streamed as the service does.

A response's words come from :mod:`realtime.emulator.replies`; its audio is speech-like
synthesis whose length follows the transcript, sent as ``response.output_audio.delta``
events or, on WebRTC, played on the call's outgoing track. A turn detected while it plays
cancels it (barge-in), as does ``response.cancel``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.emulator import audio, deltas, ids, replies, schema, usage
from realtime.emulator.errors import ApiError
from realtime.emulator.items import Items

if TYPE_CHECKING:
    from realtime.emulator.conversation import Conversation

RATE_LIMITS_DELAY_S = 0.04  # rate_limits.updated trails response.done by ~40 ms


@dataclass
class ActiveResponse:
    """The response in progress, and why it was cancelled if it was."""

    id: str
    cancel_reason: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def cancel(self, reason: str) -> None:
        """Stop the response at its next delta, for ``reason``."""
        self.cancel_reason = reason
        self.cancelled.set()


class Responses:
    """The conversation's responses: the one in progress, its audio, the tokens used."""

    def __init__(
        self, conversation: Conversation, items: Items, *, on_finished: Callable[[], None]
    ) -> None:
        self._conversation = conversation
        self._emit = conversation.emit
        self._items = items
        self._on_finished = on_finished  # told as each response ends, before response.done
        self.active: ActiveResponse | None = None
        self.assistant_audio_sent = False
        self.playing_response_id: str | None = None  # whose audio is on the WebRTC track
        self.tokens_used = 0

    # --- client events ----------------------------------------------------------------------

    async def create(self, event: dict[str, Any]) -> None:
        if self._conversation.session.get("type") == "transcription":
            raise ApiError(
                "Responses are not supported in transcription sessions.",
                code="invalid_request_error",
            )
        params = schema.validate_response_create(event.get("response"))
        if self.active is not None and params.get("conversation", "auto") != "none":
            raise ApiError(
                "Conversation already has an active response in progress: "
                f"{self.active.id}. Wait until the response is finished before creating "
                "a new one.",
                code="conversation_already_has_active_response",
            )
        self.start(params)

    async def cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.id):
            raise ApiError(
                "Cancellation failed: no active response found.",
                code="response_cancel_not_active",
            )
        self.active.cancel("client_cancelled")

    async def clear_output_audio(self, event: dict[str, Any]) -> None:
        if self._conversation.transport != "webrtc":
            raise ApiError(
                "output_audio_buffer.clear is only supported for WebRTC sessions.",
                code="invalid_value",
                param="type",
            )
        await self.clear_playback()

    # --- a response, from response.created to response.done ----------------------------------

    def start(self, params: dict[str, Any]) -> None:
        response = ActiveResponse(id=ids.response_id())
        self.active = response
        self._conversation.spawn(self._respond(response, params))

    async def _respond(self, response: ActiveResponse, params: dict[str, Any]) -> None:
        session = self._conversation.session
        modalities = params.get("output_modalities") or session.get("output_modalities", ["audio"])
        output_audio = dict(session.get("audio", {}).get("output", {}))
        output_audio.update(params.get("audio", {}).get("output", {}))
        shell = {
            "object": "realtime.response",
            "id": response.id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self._conversation.conversation_id,
            "output_modalities": modalities,
            "max_output_tokens": params.get(
                "max_output_tokens", session.get("max_output_tokens", "inf")
            ),
            "audio": {
                "output": {"format": output_audio.get("format"), "voice": output_audio.get("voice")}
            },
            "usage": None,
            "metadata": params.get("metadata"),
        }
        await self._emit({"type": "response.created", "response": shell})
        # The session is read afresh from here on: a session.update may land mid-response.
        tool = replies.tool_to_call(self._items, self._conversation.session, params)
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
            usage=usage.response_usage(self._items, self._conversation.session, item),
        )
        self.tokens_used += shell["usage"]["total_tokens"]
        self.active = None
        self._conversation.stats["responses"] += 1
        self._on_finished()
        await self._emit({"type": "response.done", "response": shell})
        await asyncio.sleep(RATE_LIMITS_DELAY_S)
        await self._emit(
            {"type": "rate_limits.updated", "rate_limits": usage.rate_limits(self.tokens_used)}
        )

    async def _speak(
        self, response: ActiveResponse, modalities: list[str], output_audio: dict[str, Any]
    ) -> dict[str, Any]:
        with_audio = modalities == ["audio"]
        text = replies.reply_text(self._items)
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
        await self._emit(
            {"type": "response.content_part.added", **where, "content_index": 0, "part": empty_part}
        )
        if with_audio:
            spoken, played_ms = await self._stream_audio(response, text, where, output_audio)
        else:
            spoken = await self._stream_text(response, text, where)
            played_ms = None
        final_status = "incomplete" if response.cancel_reason else "completed"
        if with_audio:
            await self._emit({"type": "response.output_audio.done", **where, "content_index": 0})
            await self._emit(
                {
                    "type": "response.output_audio_transcript.done",
                    **where,
                    "content_index": 0,
                    "transcript": spoken,
                }
            )
            part = {"type": "audio", "transcript": spoken}
            stored = {"type": "output_audio", "transcript": spoken}
            self._items.audio_ms[item["id"]] = played_ms or 0.0
        else:
            await self._emit(
                {"type": "response.output_text.done", **where, "content_index": 0, "text": spoken}
            )
            part = {"type": "text", "text": spoken}
            stored = {"type": "output_text", "text": spoken}
        await self._emit(
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
        """Stream transcript deltas interleaved with audio: deltas over WebSocket, the track on
        WebRTC.

        Return the transcript actually spoken and the milliseconds of audio sent.
        """
        conversation = self._conversation
        settings = conversation.settings
        pcm = audio.synthesize_speech(text)
        words = deltas.words(text)
        chunk_bytes = settings.audio_chunk_ms * audio.BYTES_PER_MS
        chunks = [pcm[start : start + chunk_bytes] for start in range(0, len(pcm), chunk_bytes)]
        spoken_words: list[str] = []
        sent_ms = 0.0
        if conversation.transport == "webrtc":
            await self._emit({"type": "output_audio_buffer.started", "response_id": response.id})
        started = time.monotonic()
        for index, chunk in enumerate(chunks):
            if response.cancel_reason:
                break
            # Words follow the audio: by the end of each chunk, its share of the words.
            due = math.ceil(len(words) * (index + 1) / len(chunks))
            while len(spoken_words) < due:
                word = words[len(spoken_words)]
                spoken_words.append(word)
                await self._emit(
                    {
                        "type": "response.output_audio_transcript.delta",
                        **where,
                        "content_index": 0,
                        "delta": word,
                        "obfuscation": deltas.obfuscation(),
                    }
                )
            if conversation.transport == "webrtc" and conversation.audio_sink is not None:
                conversation.audio_sink.play(chunk)
                self.playing_response_id = response.id
            else:
                await self._emit(
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
            wake_at = started + sent_ms / 1000 / settings.pace
            delay = wake_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(response.cancelled.wait(), delay)
        return "".join(spoken_words), sent_ms

    async def _stream_text(self, response: ActiveResponse, text: str, where: dict[str, Any]) -> str:
        spoken: list[str] = []
        for word in deltas.words(text):
            if response.cancel_reason:
                break
            spoken.append(word)
            await self._emit(
                {
                    "type": "response.output_text.delta",
                    **where,
                    "content_index": 0,
                    "delta": word,
                    "obfuscation": deltas.obfuscation(),
                }
            )
            await asyncio.sleep(0)
        return "".join(spoken)

    async def _call_tool(self, response: ActiveResponse, tool: dict[str, Any]) -> dict[str, Any]:
        arguments = json.dumps(replies.tool_arguments(tool, self._items.last_user_text()))
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
        for piece in deltas.pieces(arguments, 16):
            await self._emit(
                {
                    "type": "response.function_call_arguments.delta",
                    **where,
                    "call_id": item["call_id"],
                    "delta": piece,
                }
            )
        await self._emit(
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
        to the conversation); return the item it follows."""
        previous = self._items.last_id()
        announced = dict(item, content=[]) if item["type"] == "message" else dict(item)
        await self._emit(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": 0,
                "item": announced,
            }
        )
        self._items.by_id[item["id"]] = item
        await self._emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": announced}
        )
        return previous

    async def _close_output_item(
        self, response: ActiveResponse, item: dict[str, Any], previous: str | None
    ) -> None:
        """Finish an output item: the conversation hears first, then the response (as observed)."""
        await self._emit(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )
        await self._emit(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": 0,
                "item": item,
            }
        )

    # --- barge-in and playback ------------------------------------------------------------------

    async def interrupt(self) -> None:
        """Give way to the user's speech: cancel the response and, on WebRTC, its audio."""
        if self.active is not None:
            self.active.cancel("turn_detected")
        if self._conversation.transport == "webrtc":
            await self.clear_playback()

    async def clear_playback(self) -> None:
        sink = self._conversation.audio_sink
        if sink is not None and sink.clear() and self.playing_response_id:
            await self._playback_ended("output_audio_buffer.cleared")

    async def playback_stopped(self) -> None:
        """Note that the WebRTC track drained: the user has heard all of the reply."""
        if self.playing_response_id:
            await self._playback_ended("output_audio_buffer.stopped")

    async def _playback_ended(self, event_type: str) -> None:
        response_id, self.playing_response_id = self.playing_response_id, None
        await self._emit({"type": event_type, "response_id": response_id})
