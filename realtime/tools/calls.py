"""One session's calls of server tools: hear them, run them, answer the model.

The carrier of a session (the WebSocket proxy's consumer, or a WebRTC call's sideband) hands
``ServerToolCalls`` OpenAI's events as they pass and gives it a way to send client events
upstream. When the model calls a server tool (``response.function_call_arguments.done``, or
the ``function_call`` item of ``response.done``, whichever comes first), the tool runs as a
task of its own, so audio, barge-in and the relay go on meanwhile; its output goes back as a
``function_call_output`` item, and once no tool of the session is running and no response is
under way, a ``response.create`` asks the model to answer with it. A call whose response was
cancelled (barge-in) gets its output all the same: the model hears it with the next
response. Each run is an entry of the session log: arguments (the call's own entry), then
the output or error, with its status and duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self

import orjson
from django.contrib.auth import get_user_model

from realtime.conf import get_settings
from realtime.db import database_round
from realtime.proxy import socket_error_event
from realtime.recorder import RecordKeeper, leading_type
from realtime.tools.registry import ServerTool
from realtime.tools.runner import ToolContext, ToolResult, run

logger = logging.getLogger(__name__)

# The events the calls depend on; every other frame passes at a glance.
HEARD = frozenset(
    {"response.created", "response.done", "response.function_call_arguments.done", "error"}
)
BUSY = "conversation_already_has_active_response"
Send = Callable[[str], Awaitable[None]]


class ServerToolCalls:
    """The server tools one session may call, and the calls under way."""

    heard = HEARD  # the server events that matter here
    answer_type = "conversation.item.create"  # the client event that carries an output

    def __init__(
        self,
        tools: Mapping[str, ServerTool],
        send: Send,
        *,
        transport: str,
        user_id: int | None,
        client_ip: str | None,
        timeout: float,
        log: RecordKeeper | None = None,
    ) -> None:
        self.tools = tools
        self.send = send
        self.transport = transport
        self.user_id = user_id
        self.client_ip = client_ip
        self.session_id: int | None = None  # the carrier sets it once the row exists
        self._user: asyncio.Future[Any] | None = None
        self.timeout = timeout
        self.log = log
        self.calls: set[str] = set()  # call ids of server tools, run or running
        self.running: dict[str, asyncio.Task[None]] = {}
        self.responding = False  # a response is under way
        self.answer_pending = False  # outputs were sent that no response has heard yet
        self.asked: str | None = None  # the event id of our response.create, until created
        self._asks = 0

    @classmethod
    def for_session(
        cls,
        tools: Mapping[str, ServerTool],
        send: Send,
        *,
        transport: str,
        user_id: int | None,
        client_ip: str | None,
        log: RecordKeeper | None,
    ) -> Self | None:
        """The calls of a new session of this kind that may call ``tools``, or None when
        it may call none."""
        if not tools:
            return None
        timeout = get_settings().tool_timeout
        return cls(
            tools,
            send,
            transport=transport,
            user_id=user_id,
            client_ip=client_ip,
            timeout=timeout,
            log=log,
        )

    def owns(self, call_id: Any) -> bool:
        """Whether ``call_id`` is a call this server answers (a client may not)."""
        return isinstance(call_id, str) and call_id in self.calls

    def refusal(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The ``error`` event refusing a client's ``conversation.item.create`` when it
        answers a call the server answers itself (the official agents SDKs answer a tool
        they do not have with "not found"); None for any other event."""
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call_output":
            return None
        if not self.owns(item.get("call_id")):
            return None
        event_id = event.get("event_id")
        return socket_error_event(
            "server_tool_call",
            f"This server runs the tool of call {item['call_id']} and sends its output itself.",
            client_event_id=event_id if isinstance(event_id, str) else None,
            param="item.call_id",
        )

    def server_frame(self, text: str) -> None:
        """Note one of OpenAI's frames as relayed (parsed only if it matters here)."""
        event_type = leading_type(text)
        if event_type is not None and event_type not in self.heard:
            return
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict):
            self.server_event(event)

    def server_event(self, event: dict[str, Any]) -> None:
        event_type = event.get("type")
        if event_type == "response.created":
            self.responding = True
            self.asked = None
        elif event_type == "error":
            self._refused(event.get("error"))
        elif event_type == "response.function_call_arguments.done":
            self._start(event.get("call_id"), event.get("name"), event.get("arguments"))
        elif event_type == "response.done":
            self.responding = False
            response = event.get("response")
            for item in (response.get("output") or []) if isinstance(response, dict) else []:
                if isinstance(item, dict) and item.get("type") == "function_call":
                    self._start(item.get("call_id"), item.get("name"), item.get("arguments"))
            self._answer_if_ready()

    async def close(self) -> None:
        """Cancel the runs under way (the session is over: nobody would hear them)."""
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # --- a call's life ----------------------------------------------------------------------

    def _start(self, call_id: Any, name: Any, arguments: Any) -> None:
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None or not isinstance(call_id, str) or call_id in self.calls:
            return  # the client's tool, or a call already under way
        self.calls.add(call_id)
        text = arguments if isinstance(arguments, str) else ""
        task = asyncio.get_running_loop().create_task(self._run(tool, call_id, text))
        self.running[call_id] = task

    async def _run(self, tool: ServerTool, call_id: str, arguments: str) -> None:
        try:
            context = ToolContext(
                await self._asking_user(),
                self.session_id,
                self.transport,
                self.client_ip,
                call_id,
            )
            result = await run(tool, arguments, context, time_limit=self.timeout)
            if self.log is not None:
                self.log.tool_run(call_id, tool.name, result)
            await self._answer(call_id, result)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not answer the call %s of tool %s", call_id, tool.name)
        finally:
            self.running.pop(call_id, None)
        self._answer_if_ready()

    async def _answer(self, call_id: str, result: ToolResult) -> None:
        item = {"type": "function_call_output", "call_id": call_id, "output": result.output}
        event = {"type": self.answer_type, "item": item}
        await self.send(orjson.dumps(event).decode())
        if self.log is not None:
            self.log.client_event(event)  # the answer to it is timed from here
        self.answer_pending = True

    async def _asking_user(self) -> Any:
        """The session's user (read once, when a tool first needs it), or None."""
        if self.user_id is None:
            return None
        if self._user is None:
            self._user = asyncio.ensure_future(_read_user(self.user_id))
        return await asyncio.shield(self._user)

    def _answer_if_ready(self) -> None:
        # One response for every output sent: after the last running tool, and never while
        # a response is under way (OpenAI refuses a second one).
        if not self.answer_pending or self.running or self.responding:
            return
        self.answer_pending = False
        self.responding = True  # asked for; response.created will say so too
        self._asks += 1
        self.asked = f"event_server_tools_answer_{self._asks}"
        ask = {"type": "response.create", "event_id": self.asked}
        task = asyncio.get_running_loop().create_task(self.send(orjson.dumps(ask).decode()))
        task.add_done_callback(report_send_failure)

    def _refused(self, error: Any) -> None:
        # Our response.create refused: a response began meanwhile (a client's, or the
        # server VAD's), so ask again once it is done; never lose the tool's answer.
        if not isinstance(error, dict) or self.asked is None or error.get("event_id") != self.asked:
            return
        self.asked = None
        self.answer_pending = True
        self.responding = error.get("code") == BUSY
        self._answer_if_ready()


@database_round
def _read_user(user_id: int) -> Any:
    return get_user_model().objects.filter(pk=user_id).first()


def report_send_failure(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if (error := task.exception()) is not None:
            logger.info("could not ask for the tool's answer: %s", error)
