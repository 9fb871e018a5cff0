"""Records every upstream exchange; a recording failure never breaks a call.

Each exchange is written in one database round (one thread hop from async code): the row,
and the session it belongs to. A call made with an ``ek_`` secret joins the session its
mint started (matched by the secret's fingerprint); anything else that reached OpenAI
starts a session of its own (over as it starts if it failed); a refusal that never left
this server joins a session only if its secret names one. The WebSocket proxy opens its
session first (one per connection) and files its exchange under it.

From async code every database round runs on the app's database threads
(``realtime.db``), which keep their connections: the WebSocket proxy, which touches the
database only here and at connect, needs no cleanup between frames.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from realtime import metrics, upstream
from realtime.conf import get_settings
from realtime.db import database_round
from realtime.keys import redact
from realtime.models import Api, ExchangeKind, Outcome, RealtimeSession, UpstreamExchange

logger = logging.getLogger(__name__)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


@dataclass
class Exchange:
    """One exchange as it happened; ``record`` stores it."""

    kind: str
    source: str
    outcome: str = Outcome.OK
    error_code: str = ""
    user_id: int | None = None
    client_ip: str | None = None
    user_agent: str = ""
    model: str = ""
    api: str = Api.REALTIME  # or Api.LIVE: a session the exchange starts is of its API
    transport: str = ""
    request_bytes: int | None = None
    response_bytes: int | None = None
    upstream_status: int | None = None
    http_status: int | None = None
    upstream_error: str = ""
    upstream_ms: float | None = None
    total_ms: float = 0.0
    call_id: str = ""
    secret_fingerprint: str = ""
    session_id: int | None = None
    # The agent (and its version) whose configuration the exchange asked for: its session's.
    agent_id: int | None = None
    agent_revision_id: int | None = None

    def note_failure(self, error: upstream.UpstreamError) -> None:
        """Fill the failure fields from what the upstream client raised."""
        self.outcome = error.outcome
        self.error_code = error.error_code
        self.upstream_status = error.status
        self.upstream_error = error.body or str(error)

    def log_fields(self) -> dict[str, Any]:
        """The exchange as a structured log line's fields (``realtime.logcontext``)."""
        fields = {
            "kind": self.kind,
            "outcome": self.outcome,
            "error_code": self.error_code or None,
            "upstream_status": self.upstream_status,
            "http_status": self.http_status,
            "upstream_ms": None if self.upstream_ms is None else round(self.upstream_ms, 1),
            "total_ms": round(self.total_ms, 1),
            "session_id": self.session_id,
            "call_id": self.call_id or None,
            "user_id": self.user_id,
        }
        return {name: value for name, value in fields.items() if value is not None}

    def log_line(self) -> str:
        parts = [
            f"{self.kind} {self.outcome}",
            f"status={self.upstream_status or '-'}/{self.http_status or '-'}",
            f"request={self.request_bytes if self.request_bytes is not None else '-'}B",
            f"response={self.response_bytes if self.response_bytes is not None else '-'}B",
            f"upstream={_ms(self.upstream_ms)}",
            f"total={_ms(self.total_ms)}",
        ]
        if self.error_code:
            parts.append(f"code={self.error_code}")
        if self.call_id:
            parts.append(f"call={self.call_id}")
        return " ".join(parts)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"


async def record(exchange: Exchange) -> UpstreamExchange | None:
    """Store the exchange and log it; on a database failure, log and return None."""
    return await database_round(record_sync)(exchange)


def record_sync(exchange: Exchange) -> UpstreamExchange | None:
    """``record`` for synchronous callers such as management commands."""
    metrics.exchange(exchange.kind, exchange.outcome, exchange.total_ms, exchange.upstream_ms)
    try:
        row = _store(exchange)
    except Exception:
        logger.exception("could not record the %s exchange; the request went on", exchange.kind)
        row = None
    else:
        exchange.session_id = row.session_id  # the session it joined or started
    log = logger.info if exchange.outcome == Outcome.OK else logger.warning
    log("realtime %s", exchange.log_line(), extra=exchange.log_fields())
    return row


def _store(exchange: Exchange) -> UpstreamExchange:
    exchange = replace(
        exchange,
        upstream_error=truncate(
            redact(_storable(exchange.upstream_error)), get_settings().error_body_limit
        ),
        user_agent=_storable(exchange.user_agent)[
            : UpstreamExchange._meta.get_field("user_agent").max_length
        ],
    )
    session = _session_joined(exchange)
    # The reads above run before the transaction, which starts by writing: on SQLite a
    # transaction that reads first cannot wait for the write lock (its upgrade fails at
    # once with "database is locked" while another request writes), one that writes first
    # waits its turn; on PostgreSQL either waits.
    with transaction.atomic():
        if session is None and exchange.session_id is None:
            session = _session_started(exchange)
        elif session is not None and exchange.call_id and not session.call_id:
            session.call_id = exchange.call_id
            session.transport = session.transport or exchange.transport
            session.save(update_fields=["call_id", "transport"])
        fields = asdict(exchange)
        for name in ("session_id", "agent_id", "agent_revision_id"):  # the session's
            del fields[name]
        return UpstreamExchange.objects.create(session=session, **fields)


def _storable(text: str) -> str:
    # PostgreSQL's text columns refuse NUL, which a header may carry.
    return text.replace("\x00", "")


def _session_joined(exchange: Exchange) -> RealtimeSession | None:
    """Return the session the exchange belongs to already: the one it names, or the one
    its ``ek_`` secret's mint started."""
    if exchange.session_id is not None:
        return RealtimeSession.objects.filter(pk=exchange.session_id).first()
    # A mint's secret is new: no session can have it yet (its own starts below).
    if exchange.secret_fingerprint and exchange.kind != ExchangeKind.CLIENT_SECRET:
        return (
            RealtimeSession.objects.filter(secret_fingerprint=exchange.secret_fingerprint)
            .order_by("-id")
            .first()
        )
    return None


def _session_started(exchange: Exchange) -> RealtimeSession | None:
    """Start a session for an exchange that reached OpenAI (a proxy token mint never does).

    A session that starts with a failure, or with a hangup, is over as it starts: nothing
    else will ever end it.
    """
    if exchange.outcome == Outcome.REJECTED or exchange.upstream_ms is None:
        return None
    over = exchange.outcome != Outcome.OK or exchange.kind == ExchangeKind.HANGUP
    return RealtimeSession.objects.create(
        user_id=exchange.user_id,
        client_ip=exchange.client_ip,
        user_agent=exchange.user_agent,
        source=exchange.source,
        transport=exchange.transport,
        model=exchange.model,
        api=exchange.api,
        call_id=exchange.call_id,
        secret_fingerprint=exchange.secret_fingerprint,
        agent_id=exchange.agent_id,
        agent_revision_id=exchange.agent_revision_id,
        ended_at=timezone.now() if over else None,
        error_code=exchange.error_code if over else "",
        end_reason=(exchange.error_code or exchange.kind) if over else "",
    )


@database_round
def open_session(**fields: Any) -> int | None:
    """Start a session row (the WebSocket proxy's, one per connection); its id, or None if
    the database refused (the session goes on unrecorded, and the failure is logged)."""
    fields["user_agent"] = fields.get("user_agent", "")[
        : RealtimeSession._meta.get_field("user_agent").max_length
    ]
    try:
        return RealtimeSession.objects.create(**fields).pk
    except Exception:
        logger.exception("could not record the start of a realtime session; it went on")
        return None


@database_round
def end_session(session_id: int | None, *, keep_end: bool = False, **fields: Any) -> None:
    """Stamp a session's end and its totals; best-effort like every record.

    ``keep_end``: an end already recorded (a hangup that another process relayed) stays,
    with its reason; the totals are written either way.
    """
    if session_id is None:
        return
    for name in ("client_close_reason", "upstream_close_reason"):
        if name in fields:
            fields[name] = truncate(redact(fields[name]), 150)
    rows = RealtimeSession.objects.filter(pk=session_id)
    try:
        if not keep_end:
            rows.update(ended_at=timezone.now(), **fields)
        else:
            end = {
                name: fields.pop(name) for name in ("end_reason", "error_code") if name in fields
            }
            with transaction.atomic():
                rows.filter(ended_at__isnull=True).update(ended_at=timezone.now(), **end)
                rows.update(**fields)
        _log_end(rows.values(*ENDED_FIELDS).first())
    except Exception:
        logger.exception("could not record the end of realtime session %s", session_id)


ENDED_FIELDS = ("id", "transport", "model", "started_at", "ended_at", "end_reason", "turns")
ENDED_FIELDS += ("total_tokens", "cost_usd", "user_id", "call_id")


def _log_end(row: dict[str, Any] | None) -> None:
    """One line (and the metrics) for a session that ended, with its duration and totals."""
    if row is None:
        return
    duration = (row["ended_at"] - row["started_at"]).total_seconds() if row["ended_at"] else None
    metrics.session_ended(row["transport"], row["end_reason"], row["model"], row["cost_usd"])
    fields = {
        "session_id": row["id"],
        "transport": row["transport"] or None,
        "outcome": row["end_reason"] or None,
        "duration_s": None if duration is None else round(duration, 3),
        "turns": row["turns"],
        "total_tokens": row["total_tokens"],
        "cost_usd": None if row["cost_usd"] is None else str(row["cost_usd"]),
        "user_id": row["user_id"],
        "call_id": row["call_id"] or None,
    }
    logger.info(
        "realtime session %s ended: %s",
        row["id"],
        row["end_reason"] or "-",
        extra={name: value for name, value in fields.items() if value is not None},
    )


@database_round
def end_hung_up_session(session_id: int) -> None:
    """End a WebRTC call's session as the page hung it up: the end if it is open, the reason
    if its sideband saw the call end first (the page closes its peer as it hangs up)."""
    try:
        sessions = RealtimeSession.objects.filter(pk=session_id)
        sessions.filter(ended_at__isnull=True).update(ended_at=timezone.now(), end_reason="hangup")
        sessions.filter(end_reason="call_ended").update(end_reason="hangup")
    except Exception:
        logger.exception("could not record the hangup of realtime session %s", session_id)


@database_round
def note_carrier(session_id: int, server_process: str) -> None:
    """Name the process that carries a session (``realtime.sweep`` ends it if that process
    is killed); best-effort like every record."""
    try:
        RealtimeSession.objects.filter(pk=session_id).update(server_process=server_process)
    except Exception:
        logger.exception("could not record which process carries realtime session %s", session_id)
