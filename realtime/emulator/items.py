"""Keep the conversation's items: create, retrieve, truncate and delete them, in order."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.emulator import ids, schema
from realtime.emulator.errors import ApiError
from realtime.emulator.spec import json_type

Emit = Callable[[dict[str, Any]], Awaitable[None]]


class Items:
    """The conversation's items, in order, and the audio each one holds."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.by_id: dict[str, dict[str, Any]] = {}  # insertion-ordered, like the conversation
        self.audio_ms: dict[str, float] = {}  # each item's audio: usage, truncate
        self.idle_ids: set[str] = set()  # user items committed by the idle timeout

    # --- client events ----------------------------------------------------------------------

    async def create(self, event: dict[str, Any]) -> None:
        item = schema.validate_item(event["item"])
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.by_id:
            raise ApiError(
                f"Previous item with id '{previous}' not found.",
                code="item_not_found",
                param="previous_item_id",
            )
        if item.get("id") in self.by_id:
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
        after = {None: self.last_id(), "root": None}.get(previous, previous)
        await self.add(item, previous_item_id=after)

    async def retrieve(self, event: dict[str, Any]) -> None:
        item = self.find(event["item_id"], "item_id")
        await self._emit({"type": "conversation.item.retrieved", "item": item})

    async def truncate(self, event: dict[str, Any]) -> None:
        item = self.find(event["item_id"], "item_id")
        audio_end_ms = event["audio_end_ms"]
        if not isinstance(audio_end_ms, int) or isinstance(audio_end_ms, bool):
            raise ApiError(
                "Invalid type for 'audio_end_ms': expected an integer, but got "
                f"{json_type(audio_end_ms)} instead.",
                code="invalid_type",
                param="audio_end_ms",
            )
        available = self.audio_ms.get(item["id"])
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
        self.audio_ms[item["id"]] = audio_end_ms
        # Truncating deletes the server-side transcript: no text the user never heard.
        for part in item.get("content", []):
            if part.get("type") == "output_audio":
                part["transcript"] = ""
        await self._emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item["id"],
                "content_index": event["content_index"],
                "audio_end_ms": audio_end_ms,
            }
        )

    async def delete(self, event: dict[str, Any]) -> None:
        item = self.find(event["item_id"], "item_id")
        del self.by_id[item["id"]]
        await self._emit({"type": "conversation.item.deleted", "item_id": item["id"]})

    # --- the order ------------------------------------------------------------------------------

    async def add(self, item: dict[str, Any], *, previous_item_id: str | None) -> None:
        """Insert after ``previous_item_id`` (None: at the start) and announce it."""
        if previous_item_id == self.last_id():
            self.by_id[item["id"]] = item  # the usual case: at the end
        else:
            order = list(self.by_id.items())
            at = 0 if previous_item_id is None else list(self.by_id).index(previous_item_id) + 1
            self.by_id = dict([*order[:at], (item["id"], item), *order[at:]])
        await self._emit(
            {"type": "conversation.item.added", "previous_item_id": previous_item_id, "item": item}
        )
        await self._emit(
            {"type": "conversation.item.done", "previous_item_id": previous_item_id, "item": item}
        )

    def find(self, item_id: Any, param: str) -> dict[str, Any]:
        item = self.by_id.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise ApiError(
                f"Item with item_id '{item_id}' not found.", code="item_not_found", param=param
            )
        return item

    def last_id(self) -> str | None:
        return next(reversed(self.by_id), None)

    def last_user_or_tool(self) -> dict[str, Any] | None:
        for item in reversed(self.by_id.values()):
            if item.get("role") == "user" or item.get("type") == "function_call_output":
                return item
        return None

    def last_user_text(self) -> str:
        last = self.last_user_or_tool()
        return (message_text(last) or "") if last else ""


def message_text(item: dict[str, Any] | None) -> str | None:
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
    """Return what the conversation keeps of a content part: not the audio bytes themselves."""
    if part.get("type") == "input_audio":
        return {"type": "input_audio", "transcript": part.get("transcript")}
    return dict(part)
