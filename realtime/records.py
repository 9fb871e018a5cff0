"""The records a conversation leaves, as plain data: made by ``realtime.recorder`` and
``realtime.live_recorder``, written by ``realtime.record_writer`` (``ConversationEntry`` and
``ResponseRecord`` rows); and the small helpers both logs read events and cut text with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from realtime import pricing

TEXT_LIMIT = 20_000  # characters of one entry's text; a longer one is cut, and says so


@dataclass(slots=True)
class Entry:
    """A moment of the conversation (``realtime.models.ConversationEntry``)."""

    at: float
    kind: str
    item_id: str = ""
    response_id: str = ""
    tool_call_id: str = ""
    name: str = ""
    text: str = ""
    status: str = ""
    duration_ms: float | None = None  # a server tool's run


@dataclass(slots=True)
class LateTranscript:
    """The transcript of a spoken turn, which arrives after the turn's entry."""

    item_id: str
    text: str
    status: str = "completed"


@dataclass(slots=True)
class Response:
    """One response (``realtime.models.ResponseRecord``); times are ``time.time()``."""

    response_id: str
    created: float
    turn_ended: float | None
    first_output: float | None = None
    done: float | None = None
    status: str = ""
    status_reason: str = ""
    usage: pricing.TokenUsage = field(default_factory=pricing.TokenUsage)
    cost_usd: Decimal | None = None


Record = Entry | LateTranscript | Response
Sink = Callable[[int, Record], bool]  # (session id, record) → False if it was dropped


def cut(text: str) -> str:
    """Return ``text``, cut to ``TEXT_LIMIT`` characters with a note of how many more."""
    if len(text) <= TEXT_LIMIT:
        return text
    return f"{text[:TEXT_LIMIT]}… [{len(text) - TEXT_LIMIT} more characters]"


def as_dict(value: Any) -> dict[str, Any]:
    """Return ``value`` if it is an object, else an empty one: events are read leniently."""
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str:
    """Return ``value`` if it is a string, else an empty one."""
    return value if isinstance(value, str) else ""
