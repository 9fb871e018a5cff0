"""Run one server tool for one call of the model, and say what the model is told.

Whatever the function does, the model gets an output: its result (a string as is, anything
else as JSON), or ``{"error": "…"}`` when the arguments do not fit the parameters, the
function raises or it runs past the timeout. Nothing a tool does ends the session. Sync
functions run in a thread of their own (never the relay's loop, nor the one thread the
ORM calls of the records share); a sync function past its timeout cannot be stopped, so
it runs on in its thread, and its result is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pydantic_core
from channels.db import database_sync_to_async
from pydantic import ValidationError

from realtime import metrics
from realtime.keys import redact
from realtime.tools.registry import CONTEXT_PARAMETER, ServerTool

logger = logging.getLogger(__name__)

# How much of an exception's message the model is told (it may quote a long input).
ERROR_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class ToolContext:
    """Who is asking, given to a tool that takes a ``context`` keyword.

    ``user`` is the signed-in user of the session (None when anonymous); ``session_id`` is
    the ``realtime.models.RealtimeSession`` row of the conversation.
    """

    user: Any
    session_id: int | None
    transport: str
    client_ip: str | None
    call_id: str = ""  # the model's call of the tool


@dataclass(frozen=True)
class ToolResult:
    output: str  # what the model is told
    status: str  # completed, invalid_arguments, error, timeout
    duration_ms: float

    @property
    def failed(self) -> bool:
        return self.status != "completed"


async def run(
    tool: ServerTool, arguments: str, context: ToolContext, *, time_limit: float
) -> ToolResult:
    """Run ``tool`` with the model's ``arguments`` (JSON text), within ``time_limit`` seconds."""
    started = time.perf_counter()

    def result(output: str, status: str) -> ToolResult:
        duration_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "realtime tool %s %s %.1fms",
            tool.name,
            status,
            duration_ms,
            extra={"tool": tool.name, "outcome": status, "duration_ms": round(duration_ms, 1)},
        )
        metrics.tool_call(tool.name, status)
        return ToolResult(output, status, duration_ms)

    try:
        parsed = tool.arguments_model.model_validate_json(arguments or "{}")
    except ValidationError as error:
        return result(
            _error(f"invalid arguments for {tool.name}: {_explain(error)}"), "invalid_arguments"
        )
    kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
    if tool.takes_context:
        kwargs[CONTEXT_PARAMETER] = context
    try:
        async with asyncio.timeout(time_limit):
            if tool.is_async:
                value = await tool.function(**kwargs)
            else:
                value = await database_sync_to_async(tool.function, thread_sensitive=False)(
                    **kwargs
                )
    except TimeoutError:
        logger.warning("tool %s did not finish within %g seconds", tool.name, time_limit)
        late = f"{tool.name} did not finish within {time_limit:g} seconds"
        return result(_error(late), "timeout")
    except Exception as error:
        logger.exception("tool %s failed", tool.name)
        return result(_error(f"{type(error).__name__}: {error}"), "error")
    try:
        output = value if isinstance(value, str) else pydantic_core.to_json(value).decode()
    except Exception as error:
        logger.exception("tool %s returned what cannot be written as JSON", tool.name)
        return result(
            _error(f"{tool.name} returned what cannot be written as JSON: {error}"), "error"
        )
    return result(output, "completed")


def _error(message: str) -> str:
    # The model may read it aloud: never a secret in it, and not too long.
    return orjson.dumps({"error": redact(message)[:ERROR_MESSAGE_LIMIT]}).decode()


def _explain(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'arguments'}: {problem['msg']}"
        for problem in error.errors(include_url=False)
    )
