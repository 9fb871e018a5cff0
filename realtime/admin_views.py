"""What the sessions admin shows beyond rows: readable numbers, a conversation's timeline,
and the cost per day.

The timeline merges a session's ``ConversationEntry`` rows and its ``ResponseRecord`` rows
by time, so a session's page reads as the conversation: who spoke, what the tools did, what
failed, and how fast and how dear each response was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.template.defaultfilters import filesizeformat

from realtime.models import Api, ConversationEntry, EntryKind, RealtimeSession, ResponseRecord

WHO = {
    EntryKind.USER_SPEECH: "user",
    EntryKind.USER_TEXT: "user",
    EntryKind.ASSISTANT: "assistant",
    EntryKind.FUNCTION_CALL: "tool",
    EntryKind.FUNCTION_OUTPUT: "tool",
    EntryKind.TOOL_RUN: "tool",
    EntryKind.ERROR: "error",
    EntryKind.SIDEBAND: "note",
}


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{round(value):,} ms"


def duration(seconds: float | Decimal | None) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour); a dash when unknown."""
    if seconds is None:
        return "—"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def usd(value: Decimal | None) -> str:
    """A cost as dollars: four decimals under a dollar, two above; "unknown" without price."""
    if value is None:
        return "unknown"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def size(value: int | None) -> str:
    return "—" if value is None else filesizeformat(value)


@dataclass
class TimelineRow:
    at: datetime
    offset: str  # m:ss from the session's start
    who: str  # user, assistant, tool, error, note, response
    label: str
    text: str
    details: str


def timeline(session: RealtimeSession) -> list[TimelineRow]:
    """The session's conversation and responses, in the order they happened."""
    rows = [_entry_row(session, entry) for entry in session.entries.all()]
    rows += [_response_row(session, response) for response in session.responses.all()]
    return sorted(rows, key=lambda row: row.at)


def _offset(session: RealtimeSession, at: datetime) -> str:
    seconds = (at - session.started_at).total_seconds()
    return duration(seconds)


def _entry_row(session: RealtimeSession, entry: ConversationEntry) -> TimelineRow:
    label = entry.get_kind_display()
    details = []
    tool_kinds = (EntryKind.FUNCTION_CALL, EntryKind.FUNCTION_OUTPUT, EntryKind.TOOL_RUN)
    if entry.kind in (*tool_kinds, EntryKind.ERROR):
        label = f"{label}: {entry.name}" if entry.name else label
    if entry.kind in tool_kinds:
        details.append(entry.tool_call_id)
    if entry.duration_ms is not None:
        details.append(f"ran {milliseconds(entry.duration_ms)}")
    if entry.status and entry.kind != EntryKind.SIDEBAND:
        details.append(entry.status)
    text = entry.text
    if entry.kind == EntryKind.SIDEBAND:
        label, text = f"sideband {entry.status}", entry.text
    elif not text and entry.kind in (EntryKind.USER_SPEECH, EntryKind.ASSISTANT):
        text = "(no transcript)"
    details.append(entry.item_id)
    who = WHO.get(entry.kind, "note")
    if entry.kind == EntryKind.TOOL_RUN and entry.status != "completed":
        who = "error"  # a tool that raised or timed out stands out like an error event
    return TimelineRow(
        entry.at,
        _offset(session, entry.at),
        who,
        label,
        text,
        " · ".join(part for part in details if part),
    )


def _response_row(session: RealtimeSession, response: ResponseRecord) -> TimelineRow:
    tokens = (
        response.input_text_tokens + response.input_audio_tokens,
        response.output_text_tokens + response.output_audio_tokens,
    )
    status = response.status + (f" ({response.status_reason})" if response.status_reason else "")
    details = [
        f"turn end → created {milliseconds(response.turn_to_created_ms)}",
        f"→ first output {milliseconds(response.turn_to_first_output_ms)}",
        f"→ done {milliseconds(response.turn_to_done_ms)}",
        f"{tokens[0]:,} in / {tokens[1]:,} out tokens",
        usd(response.cost_usd),
    ]
    return TimelineRow(
        response.created_at,
        _offset(session, response.created_at),
        "response",
        f"response {status}".strip(),
        "",
        " · ".join(details),
    )


def totals(session: RealtimeSession) -> list[tuple[str, str]]:
    """The numbers at the top of a session's page."""
    tokens = session.total_tokens
    return [
        ("duration", duration(session.duration_seconds)),
        ("turns", "—" if session.turns is None else f"{session.turns:,}"),
        ("tokens", "—" if tokens is None else f"{tokens:,}"),
        ("cost", usd(session.cost_usd) if session.ended_at else "—"),
        ("end reason", session.end_reason or session.error_code or "—"),
        ("agent", _agent(session)),
        ("records dropped", f"{session.records_dropped:,}"),
    ]


def _agent(session: RealtimeSession) -> str:
    if session.agent_revision is not None:
        return f"{session.agent_revision.agent.name} v{session.agent_revision.version}"
    return session.agent.name if session.agent is not None else "— (the settings)"


def cost_per_day(sessions: QuerySet[RealtimeSession], by_user: bool) -> list[dict[str, Any]]:
    """Sessions, turns, tokens and cost per day (and per user), the newest day first, and
    what of it each API had: a Realtime session's cost is of its tokens, a GPT-Live
    session's of its billed seconds (its Responses backend's tokens are counted, not priced).

    A day's cost sums what is known; ``unpriced`` counts its sessions that used something
    (tokens, or billed seconds) without a price.
    """
    keys = ["day", "user__username"] if by_user else ["day"]
    live = Q(api=Api.LIVE)
    rows = (
        sessions.annotate(day=TruncDate("started_at"))
        .values(*keys)
        .annotate(
            sessions=Count("id"),
            live_sessions=Count("id", filter=live),
            turns=Sum("turns"),
            tokens=Sum("total_tokens"),
            cost=Sum("cost_usd"),
            realtime_cost=Sum("cost_usd", filter=~live),
            live_cost=Sum("cost_usd", filter=live),
            live_seconds=Sum("usage_seconds", filter=live),
            unpriced=Count(
                "id",
                filter=Q(cost_usd__isnull=True) & (Q(total_tokens__gt=0) | Q(usage_seconds__gt=0)),
            ),
        )
        .order_by("-day", *keys[1:])
    )
    return [
        {
            **row,
            "cost_display": usd(row["cost"] or Decimal(0)),
            "realtime_cost_display": usd(row["realtime_cost"] or Decimal(0)),
            "live_cost_display": usd(row["live_cost"] or Decimal(0)),
            "live_billed": duration(row["live_seconds"]),
            "user": row.get("user__username"),
        }
        for row in rows
    ]
