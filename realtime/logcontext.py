"""What each log line says about the request or session it was written for.

``bind`` names, for the current context, the request (``request_id``), the session
(``session_id``, ``call_id``), the user (``user_id``) and the transport; every log record
written in that context then carries them once a handler has ``ContextFilter`` (the
project adds it, and with ``LOG_FORMAT=json`` writes each record as one JSON object with
these as keys). A request binds as it is admitted, a proxied connection as it connects, a
sideband as its task starts, a tool's run inherits its session's: asyncio copies the
context into each task, so what one session binds never reaches another.

Events with an outcome and durations are logged with them as ``extra`` fields
(``outcome``, ``total_ms``, ``upstream_ms``, ``duration_s``), so a JSON line can be
filtered and summed without parsing the message.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

# The default is never mutated: bind sets a new dict.
_bound: ContextVar[dict[str, Any]] = ContextVar("realtime_log_context", default={})  # noqa: B039
# A client's own request id is kept if it looks like one (a load balancer's, say).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def bind(**fields: Any) -> None:
    """Name these fields in every record written from now on in this context (a None
    value leaves a field as it is)."""
    _bound.set(
        {**_bound.get(), **{name: value for name, value in fields.items() if value is not None}}
    )


def request_id(given: str | None) -> str:
    """The request's id: the client's ``X-Request-ID`` if well-formed, else a new one."""
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def scope_request_id(scope: dict[str, Any]) -> str:
    """``request_id`` for an ASGI connection, from its ``X-Request-ID`` header if any."""
    given = dict(scope.get("headers") or []).get(b"x-request-id", b"")
    return request_id(given.decode("latin-1"))


class ContextFilter(logging.Filter):
    """Copy the bound fields onto each record (a handler's filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _bound.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
