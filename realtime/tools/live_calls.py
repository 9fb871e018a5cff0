"""One GPT-Live session's calls of server tools, made through Responses delegation.

Live has no tools of its own: under ``responses`` delegation the Live model hands a task to a
Responses backend, which calls the session's function tools. Its calls reach the session as
``response.event`` frames wrapping the Responses stream; a call is complete in the
``response.output_item.done`` whose item is a ``function_call`` (the nested
``response.function_call_arguments.done`` has no name). The server runs the tools it has
as ``realtime.tools.calls.ServerToolCalls`` does, each as a task of its own, then answers the
backend with a ``response.item.create`` (the ``function_call_output``) per call and, once no
tool of the session is running, one ``response.create``. The backend is not the Live model:
it takes a ``response.create`` while the model speaks, and an interruption does not cancel
its work, so there is no turn to wait for.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from realtime.conf import get_settings
from realtime.live_recorder import LiveConversationLog
from realtime.recorder import leading_type
from realtime.tools.calls import Send, ServerToolCalls, report_send_failure
from realtime.tools.registry import ServerTool
from realtime.tools.runner import ToolResult

# The Live frames the calls depend on; every other frame passes at a glance.
HEARD = frozenset({"response.event"})


def for_session(
    tools: Mapping[str, ServerTool],
    send: Send,
    *,
    transport: str,
    user_id: int | None,
    client_ip: str | None,
    log: LiveConversationLog | None,
) -> LiveToolCalls | None:
    """The calls of a new Live session that may call ``tools``, or None when it may call
    none."""
    if not tools:
        return None
    return LiveToolCalls(
        tools,
        send,
        transport=transport,
        user_id=user_id,
        client_ip=client_ip,
        timeout=get_settings().tool_timeout,
        log=log,
    )


class LiveToolCalls(ServerToolCalls):
    """The server tools one Live session's backend may call, and the calls under way."""

    def refusal(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The ``error`` event refusing a client's ``response.item.create`` that answers a
        call the server answers itself; None for any other event."""
        if event.get("type") != "response.item.create":
            return None
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call_output":
            return None
        if not self.owns(item.get("call_id")):
            return None
        event_id = event.get("event_id")
        return live_error_event(
            "server_tool_call",
            f"This server runs the tool of call {item['call_id']} and sends its output itself.",
            client_event_id=event_id if isinstance(event_id, str) else None,
            param="item.call_id",
        )

    def server_frame(self, text: str) -> None:
        event_type = leading_type(text)
        if event_type is not None and event_type not in HEARD:
            return
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict):
            self.server_event(event)

    def server_event(self, event: dict[str, Any]) -> None:
        if event.get("type") != "response.event":
            return
        inner = event.get("event")
        if not isinstance(inner, dict) or inner.get("type") != "response.output_item.done":
            return
        item = inner.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            self._start(item.get("call_id"), item.get("name"), item.get("arguments"))

    async def _answer(self, call_id: str, result: ToolResult) -> None:
        item = {"type": "function_call_output", "call_id": call_id, "output": result.output}
        event = {"type": "response.item.create", "item": item}
        # Its record is the run's own entry (ServerToolCalls._run): not a client's output.
        await self.send(orjson.dumps(event).decode())
        self.answer_pending = True

    def _answer_if_ready(self) -> None:
        # One response.create for every output sent, after the last running tool.
        if not self.answer_pending or self.running:
            return
        self.answer_pending = False
        self._asks += 1
        ask = {"type": "response.create", "event_id": f"event_server_tools_answer_{self._asks}"}
        task = asyncio.get_running_loop().create_task(self.send(orjson.dumps(ask).decode()))
        task.add_done_callback(report_send_failure)


def live_error_event(
    code: str,
    message: str,
    *,
    client_event_id: str | None = None,
    param: str | None = None,
    error_type: str = "invalid_request_error",
) -> dict[str, Any]:
    """An ``error`` event in GPT-Live's shape: the correlation id is ``client_event_id``, at
    the top and inside ``error`` (Realtime's is ``error.event_id``)."""
    error: dict[str, Any] = {"type": error_type, "code": code, "message": message}
    if param is not None:
        error["param"] = param
    event_id = f"event_proxy_{secrets.token_hex(8)}"
    event: dict[str, Any] = {"type": "error", "event_id": event_id, "error": error}
    if client_event_id is not None:
        error["client_event_id"] = client_event_id
        event["client_event_id"] = client_event_id
    return event
