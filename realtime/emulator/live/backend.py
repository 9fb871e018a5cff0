"""Run a Live session's Responses backend (``responses`` delegation) as a deterministic model.

The backend keeps the items the application adds (``response.item.create``) and the
function calls it makes, and answers ``response.create`` (or a delegation from the Live
model) with one response of one output item, streamed as ``response.event`` frames that wrap
the Responses API's own stream events: ``response.created``, ``response.in_progress``,
``response.output_item.added``, the item's deltas and done events,
``response.output_item.done`` and ``response.completed`` (which carries the token usage).
Its snapshots of the response omit the input and clear instructions, tools and output, as
the SDK says the service's do.

It answers the last item:

- a user message that names a function tool of ``delegation.responses.tools`` (the realtime
  emulator's rule, see :func:`tool_named`) with a ``function_call`` to that tool, its
  arguments from :func:`realtime.emulator.replies.tool_arguments`;
- a ``function_call_output`` with 'The <name> tool returned: <output>.';
- another user message with 'You said: "<text>".'; nothing at all with "How can I help?".

The Live model speaks every text answer. Frames of a response that continues a delegation
(the output of a call made for it) carry that ``delegation_id``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import TYPE_CHECKING, Any

from realtime.emulator import deltas, ids, usage
from realtime.emulator.errors import ApiError
from realtime.emulator.live import events
from realtime.emulator.replies import tool_arguments

if TYPE_CHECKING:
    from realtime.emulator.live.session import LiveSession


class Backend:
    """The Responses backend's items and responses for one Live session."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.items: list[dict[str, Any]] = []
        self._calls: dict[str, tuple[str, str | None]] = {}  # call_id -> (name, delegation)

    def config(self) -> dict[str, Any]:
        """Return the backend's settings; refuse if the session does not delegate to it."""
        delegation = self.session.session["delegation"]
        if delegation["type"] != "responses":
            raise ApiError(
                "This command requires Responses delegation; the session delegates to "
                f"'{delegation['type']}'.",
                code="invalid_delegation",
            )
        return delegation["responses"]

    async def add_item(self, event: dict[str, Any]) -> None:
        """Answer ``response.item.create``: keep the item for the next response."""
        self.config()
        self.items.append(events.validate_response_item(event["item"]))

    async def create(self, event: dict[str, Any]) -> None:
        """Answer ``response.create``: respond to the last item (see the module's rules)."""
        self.config()
        client_event_id = event.get("event_id")
        last = self.items[-1] if self.items else None
        if last is not None and last.get("type") == "function_call_output":
            name, delegation_id = self._calls.get(last["call_id"], ("function", None))
            output = (
                last["output"] if isinstance(last["output"], str) else json.dumps(last["output"])
            )
            await self._answer(
                f"The {name} tool returned: {output}.", delegation_id, client_event_id
            )
            return
        text = _message_text(last) if last is not None else None
        tool = self.tool_named(text) if text is not None else None
        if tool is not None:
            await self._call(tool, text, None, client_event_id)
        elif text is not None:
            await self._answer(f'You said: "{text}".', None, client_event_id)
        else:
            await self._answer("How can I help?", None, client_event_id)

    async def delegate(self, text: str, tool: dict[str, Any], offset_ms: int) -> None:
        """Take a task the Live model delegates: the user's ``text``, which calls ``tool``."""
        delegation_id, response_id = ids.item_id(), ids.response_id()
        self.session.delegations[delegation_id] = "responses"
        await self.session.emit(
            {
                "type": "session.delegation.created",
                "offset_ms": offset_ms,
                "delegation": {
                    "id": delegation_id,
                    "type": "delegation",
                    "target": "responses",
                    "response_id": response_id,
                },
            }
        )
        self.items.append({"type": "message", "role": "user", "content": text})
        await self._call(tool, text, delegation_id, None, response_id=response_id)

    def tool_named(self, text: str) -> dict[str, Any] | None:
        """Return the function tool a user text calls, or None when the backend answers."""
        config = self.session.session["delegation"].get("responses") or {}
        tools = [tool for tool in config.get("tools") or [] if tool.get("type") == "function"]
        choice = config.get("tool_choice") or "auto"
        if not tools or choice == "none":
            return None
        if isinstance(choice, dict):
            return next((tool for tool in tools if tool["name"] == choice.get("name")), None)
        if choice == "required":
            return tools[0]
        lowered = text.lower()
        return next(
            (
                tool
                for tool in tools
                if re.search(rf"\b{re.escape(tool['name'].lower())}\b", lowered)
            ),
            None,
        )

    # --- streaming a response -------------------------------------------------------------------

    async def _call(
        self,
        tool: dict[str, Any],
        text: str,
        delegation_id: str | None,
        client_event_id: str | None,
        response_id: str | None = None,
    ) -> None:
        call = {
            "id": ids.item_id(),
            "type": "function_call",
            "call_id": ids.function_call_id(),
            "name": tool["name"],
            "arguments": json.dumps(tool_arguments(tool, text)),
        }
        self._calls[call["call_id"]] = (tool["name"], delegation_id)
        self.items.append(call)
        stream = _Stream(self, delegation_id, client_event_id, response_id)
        await stream.open()
        await stream.send(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**call, "arguments": "", "status": "in_progress"},
            }
        )
        where = {"item_id": call["id"], "output_index": 0}
        await stream.send(
            {"type": "response.function_call_arguments.delta", **where, "delta": call["arguments"]}
        )
        await stream.send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "arguments": call["arguments"],
            }
        )
        await stream.send(
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {**call, "status": "completed"},
            }
        )
        await stream.close(usage.text_tokens(call["arguments"]))

    async def _answer(
        self, text: str, delegation_id: str | None, client_event_id: str | None
    ) -> None:
        item_id = ids.item_id()
        stream = _Stream(self, delegation_id, client_event_id, None)
        await stream.open()
        message = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        await stream.send(
            {"type": "response.output_item.added", "output_index": 0, "item": message}
        )
        where = {"item_id": item_id, "output_index": 0, "content_index": 0}
        part = {"type": "output_text", "text": "", "annotations": []}
        await stream.send({"type": "response.content_part.added", **where, "part": part})
        for word in deltas.words(text):
            await stream.send(
                {"type": "response.output_text.delta", **where, "delta": word, "logprobs": []}
            )
        await stream.send(
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
        )
        done_part = {**part, "text": text}
        await stream.send({"type": "response.content_part.done", **where, "part": done_part})
        await stream.send(
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {**message, "status": "completed", "content": [done_part]},
            }
        )
        await stream.close(usage.text_tokens(text))
        self.items.append({"type": "message", "role": "assistant", "content": text})
        self.session.speaker.say(text)

    def input_tokens(self) -> int:
        context = "".join(_message_text(item) or "" for item in self.items)
        return usage.text_tokens(context + str(self.config().get("instructions") or ""))


class _Stream:
    """One backend response's ``response.event`` frames, numbered in order."""

    def __init__(
        self,
        backend: Backend,
        delegation_id: str | None,
        client_event_id: str | None,
        response_id: str | None,
    ) -> None:
        self._backend = backend
        self._delegation_id = delegation_id
        self._client_event_id = client_event_id
        self._sequence = itertools.count()
        config = backend.config()
        self._response = {
            "id": response_id or ids.response_id(),
            "object": "response",
            "created_at": int(time.time()),
            "model": config["model"],
            "status": "in_progress",
            "output": [],
            "tools": [],
            "instructions": None,
            "tool_choice": config.get("tool_choice") or "auto",
            "parallel_tool_calls": config.get("parallel_tool_calls", True) is not False,
            "error": None,
            "incomplete_details": None,
        }

    async def send(self, event: dict[str, Any]) -> None:
        frame: dict[str, Any] = {
            "type": "response.event",
            "event": {**event, "sequence_number": next(self._sequence)},
        }
        if self._delegation_id is not None:
            frame["delegation_id"] = self._delegation_id
        await self._backend.session.emit(frame, self._client_event_id)

    async def open(self) -> None:
        await self.send({"type": "response.created", "response": self._response})
        await self.send({"type": "response.in_progress", "response": self._response})

    async def close(self, output_tokens: int) -> None:
        input_tokens = self._backend.input_tokens()
        self._response = {
            **self._response,
            "status": "completed",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
        }
        await self.send({"type": "response.completed", "response": self._response})


def _message_text(item: dict[str, Any] | None) -> str | None:
    """Return the text of a user message item, or None for any other item."""
    if item is None or item.get("type", "message") != "message" or item.get("role") != "user":
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    texts = [part.get("text", "") for part in content or [] if part.get("type") == "input_text"]
    return " ".join(texts) if texts else None
