"""One sideband per call across processes, and calls taken over when their holder is gone.

A call's sideband holds a lease in Django's cache (``realtime:sideband:<call_id>``, the
holder's ``realtime.sweep.current()`` name): ``take`` is the cache's atomic ``add``, so of
the processes that try, one wins. The holder renews the lease every ``RENEW_EVERY``
seconds and releases it when its sideband ends. With a shared cache (Redis: ``REDIS_URL``)
the lease is one for every process; with the default local-memory cache it is the one
process's.

Every serving process adopts orphans (``Adopter``): each ``ADOPT_EVERY`` seconds it looks
for the calls whose rows are open and whose lease has lapsed (their holder was killed, or
handed them over as it drained) and takes them over, resuming their record from what was
written so far. A call that ended meanwhile is found over at OpenAI (404) and its row ended
(``call_ended``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from realtime import cache_ops, drain, sweep, tasks
from realtime.conf import get_settings
from realtime.db import database_round
from realtime.models import ConversationEntry, EntryKind, RealtimeSession, Transport
from realtime.pricing import TokenUsage
from realtime.record_writer import RESPONSE_COLUMNS
from realtime.recorder import SessionTotals
from realtime.tools.registry import registered_tools

logger = logging.getLogger(__name__)

LEASE_SECONDS = 15
RENEW_EVERY = 5.0
ADOPT_EVERY = 5.0
CALL_MAX_SECONDS = 60 * 60  # OpenAI ends a realtime session after 60 minutes
KEY_PREFIX = "realtime:sideband"


def sidebands_wanted() -> bool:
    """Whether relayed calls get a sideband: there is a record to keep or a tool to run."""
    conf = get_settings()
    return conf.sideband and bool(conf.record_conversations or registered_tools())


def _key(call_id: str) -> str:
    return f"{KEY_PREFIX}:{call_id}"


async def take(call_id: str, holder: str) -> bool:
    """Take the call's lease; False if another holds it."""
    return await cache_ops.add(_key(call_id), holder, LEASE_SECONDS)


async def renew(call_id: str, holder: str) -> bool:
    """Extend the lease ``holder`` holds; False if it lapsed and another took it."""
    current = await cache_ops.get(_key(call_id))
    if current is None:
        return await take(call_id, holder)
    if current != holder:
        return False
    return await cache_ops.touch(_key(call_id), LEASE_SECONDS)


async def release(call_id: str, holder: str) -> None:
    if await cache_ops.get(_key(call_id)) == holder:
        await cache_ops.delete(_key(call_id))


async def held_by(call_id: str) -> str | None:
    return await cache_ops.get(_key(call_id))


async def keep(call_id: str, holder: str, lost: Callable[[], Awaitable[None]]) -> None:
    """Renew the lease every ``RENEW_EVERY`` seconds until cancelled; await ``lost`` and
    stop if another process took it. A cache that does not answer is no reason to stop."""
    while True:
        await asyncio.sleep(RENEW_EVERY)
        try:
            if await renew(call_id, holder):
                continue
        except Exception:
            logger.warning("could not renew the lease of call %s", call_id)
            continue
        logger.warning("call %s is watched by another process now", call_id)
        await lost()
        return


# --- resuming a record --------------------------------------------------------------------


@database_round
def recorded_so_far(session_id: int) -> tuple[SessionTotals, set[str]]:
    """The totals of what a session's record holds, and the items it has: where an adopted
    sideband's record resumes."""
    entries = ConversationEntry.objects.filter(session_id=session_id)
    turns = entries.filter(kind__in=[EntryKind.USER_SPEECH, EntryKind.USER_TEXT]).count()
    seen = set(entries.exclude(item_id="").values_list("item_id", flat=True))
    fields = [column for column in RESPONSE_COLUMNS if column.endswith("_tokens")]
    sums: dict[str, Any] = (
        RealtimeSession.objects.get(pk=session_id)
        .responses.order_by()
        .aggregate(
            responses=Count("id"),
            unpriced=Count("id", filter=Q(cost_usd__isnull=True)),
            cost=Sum("cost_usd"),
            **{name: Sum(name) for name in fields},
        )
    )
    usage = TokenUsage(
        input_text=sums["input_text_tokens"] or 0,
        input_audio=sums["input_audio_tokens"] or 0,
        cached_text=sums["cached_text_tokens"] or 0,
        cached_audio=sums["cached_audio_tokens"] or 0,
        output_text=sums["output_text_tokens"] or 0,
        output_audio=sums["output_audio_tokens"] or 0,
    )
    # OpenAI's own totals are not kept per response; by kind they add up to them.
    usage.input_tokens = usage.input_text + usage.input_audio
    usage.output_tokens = usage.output_text + usage.output_audio
    cost = None if sums["unpriced"] else (sums["cost"] or Decimal(0))
    totals = SessionTotals(turns=turns, usage=usage, cost_usd=cost, responses=sums["responses"])
    return totals, seen


# --- adopting orphans ---------------------------------------------------------------------


@database_round
def _open_calls(since_seconds: int) -> list[dict[str, Any]]:
    """WebRTC calls (Realtime or Live: ``api``) whose rows are open, started within
    OpenAI's session limit."""
    started_after = timezone.now() - timedelta(seconds=since_seconds)
    rows = (
        RealtimeSession.objects.filter(
            ended_at__isnull=True, transport=Transport.WEBRTC, started_at__gte=started_after
        )
        .exclude(call_id="")
        .order_by("started_at")
    )
    return list(rows.values("id", "call_id", "model", "user_id", "client_ip", "api"))


class Adopter:
    """This process's search for calls that lost their sideband's holder."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    def start(self, adopt: Callable[[dict[str, Any]], None], holds: Callable[[str], bool]) -> None:
        """Every ``ADOPT_EVERY`` seconds, ``adopt`` each open call that no process holds
        (``holds``: whether this process watches it already) once its lease is taken."""
        if self.task is None or self.task.done():
            self.task = tasks.detached(self._run(adopt, holds))

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(
        self, adopt: Callable[[dict[str, Any]], None], holds: Callable[[str], bool]
    ) -> None:
        while not drain.live.draining:
            try:
                for call in await _open_calls(CALL_MAX_SECONDS):
                    # take() fails where another holds the lease: no read before it.
                    if not holds(call["call_id"]) and await take(call["call_id"], sweep.current()):
                        logger.info("taking over the sideband of call %s", call["call_id"])
                        adopt(call)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not look for calls to take over")
            await asyncio.sleep(ADOPT_EVERY)


adopter = Adopter()
