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
from typing import Any

import orjson

from realtime.tools.calls import ServerToolCalls, report_send_failure

# The Live frames the calls depend on; every other frame passes at a glance.
HEARD = frozenset({"response.event"})


class LiveToolCalls(ServerToolCalls):
    """The server tools one Live session's backend may call, and the calls under way.

    ``refusal`` is ``ServerToolCalls``': a client's ``response.item.create`` carries its
    ``function_call_output`` as Realtime's ``conversation.item.create`` does (the Live proxy
    gives the refusal Live's error shape).
    """

    heard = HEARD
    answer_type = "response.item.create"

    def server_event(self, event: dict[str, Any]) -> None:
        if event.get("type") != "response.event":
            return
        inner = event.get("event")
        if not isinstance(inner, dict) or inner.get("type") != "response.output_item.done":
            return
        item = inner.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            self._start(item.get("call_id"), item.get("name"), item.get("arguments"))

    def _answer_if_ready(self) -> None:
        # One response.create for every output sent, after the last running tool.
        if not self.answer_pending or self.running:
            return
        self.answer_pending = False
        self._asks += 1
        ask = {"type": "response.create", "event_id": f"event_server_tools_answer_{self._asks}"}
        task = asyncio.get_running_loop().create_task(self.send(orjson.dumps(ask).decode()))
        task.add_done_callback(report_send_failure)
