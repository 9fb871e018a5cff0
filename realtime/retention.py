"""Forgetting what the diagnostics hold: rows past the retention window, or one user's.

``prune`` deletes sessions (with their conversation entries and responses) and exchanges
older than ``REALTIME_RETENTION_DAYS``, or every row of one user, in batches of
``BATCH_SIZE`` so that no single transaction holds the table for long. ``manage.py
prune_realtime`` runs it (from cron, daily, or to answer a deletion request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from realtime.models import ConversationEntry, RealtimeSession, ResponseRecord, UpstreamExchange

BATCH_SIZE = 1000


@dataclass
class Pruned:
    sessions: int = 0
    entries: int = 0
    responses: int = 0
    exchanges: int = 0


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def prune(
    *, before: datetime | None = None, user_id: int | None = None, dry_run: bool = False
) -> Pruned:
    """Delete (or, with ``dry_run``, count) the rows started before ``before``, or the rows
    of ``user_id``; return how many of each kind."""
    sessions = RealtimeSession.objects.all()
    exchanges = UpstreamExchange.objects.all()
    if before is not None:
        sessions = sessions.filter(started_at__lt=before)
        exchanges = exchanges.filter(created_at__lt=before)
    if user_id is not None:
        sessions = sessions.filter(user_id=user_id)
        exchanges = exchanges.filter(user_id=user_id)
    if dry_run:
        return Pruned(
            sessions=sessions.count(),
            entries=ConversationEntry.objects.filter(session__in=sessions).count(),
            responses=ResponseRecord.objects.filter(session__in=sessions).count(),
            exchanges=exchanges.count(),
        )
    pruned = Pruned()
    while ids := list(sessions.values_list("pk", flat=True)[:BATCH_SIZE]):
        with transaction.atomic():
            pruned.entries += ConversationEntry.objects.filter(session_id__in=ids).delete()[0]
            pruned.responses += ResponseRecord.objects.filter(session_id__in=ids).delete()[0]
            # A session's exchanges go with it, whatever their own age.
            pruned.exchanges += UpstreamExchange.objects.filter(session_id__in=ids).delete()[0]
            pruned.sessions += RealtimeSession.objects.filter(pk__in=ids).delete()[0]
    pruned.exchanges += _delete_in_batches(exchanges)
    return pruned


def _delete_in_batches(rows: QuerySet) -> int:
    deleted = 0
    while ids := list(rows.values_list("pk", flat=True)[:BATCH_SIZE]):
        deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
