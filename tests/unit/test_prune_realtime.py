"""``manage.py prune_realtime``: exactly what is older than the window goes, in batches."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from realtime import retention
from realtime.models import ConversationEntry, RealtimeSession, ResponseRecord, UpstreamExchange

pytestmark = pytest.mark.django_db


def session_aged(days: float, user=None) -> RealtimeSession:
    """A session started ``days`` ago with an entry, a response and an exchange."""
    started = timezone.now() - timezone.timedelta(days=days)
    session = RealtimeSession.objects.create(source="web", user=user)
    RealtimeSession.objects.filter(pk=session.pk).update(started_at=started)
    ConversationEntry.objects.create(session=session, at=started, kind="user_text", text="hi")
    ResponseRecord.objects.create(session=session, created_at=started, status="completed")
    exchange = UpstreamExchange.objects.create(
        session=session, kind="call", source="web", outcome="ok", total_ms=1
    )
    UpstreamExchange.objects.filter(pk=exchange.pk).update(created_at=started)
    return session


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_realtime", *args, stdout=out)
    return out.getvalue()


def test_prune_removes_exactly_what_is_older_than_the_window(settings, monkeypatch):
    settings.REALTIME_RETENTION_DAYS = 30
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)  # several batches
    old = [session_aged(31 + n) for n in range(5)]
    kept = [session_aged(29), session_aged(0)]
    stray = UpstreamExchange.objects.create(kind="call", source="web", outcome="ok", total_ms=1)
    UpstreamExchange.objects.filter(pk=stray.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=40)
    )

    output = prune()

    assert set(RealtimeSession.objects.values_list("pk", flat=True)) == {s.pk for s in kept}
    assert not ConversationEntry.objects.filter(session__in=[s.pk for s in old]).exists()
    assert ConversationEntry.objects.count() == ResponseRecord.objects.count() == 2
    assert UpstreamExchange.objects.count() == 2
    assert output.strip() == (
        "Deleted 5 session(s) with 5 conversation entries and 5 response(s), "
        "and 6 exchange(s), older than 30 days."
    )


def test_a_dry_run_counts_and_deletes_nothing(settings):
    settings.REALTIME_RETENTION_DAYS = 7
    session_aged(10)

    output = prune("--dry-run")

    assert output.startswith("Would delete 1 session(s) with 1 conversation entry")
    assert RealtimeSession.objects.count() == 1


def test_a_retention_of_zero_keeps_everything(settings):
    settings.REALTIME_RETENTION_DAYS = 0
    session_aged(400)

    assert "keep forever" in prune()
    assert RealtimeSession.objects.count() == 1


def test_a_users_rows_are_deleted_whatever_their_age(django_user_model):
    ada = django_user_model.objects.create(username="ada")
    session_aged(0, user=ada)
    other = session_aged(0)

    output = prune("--user", "ada")

    assert list(RealtimeSession.objects.values_list("pk", flat=True)) == [other.pk]
    assert output.endswith("of user ada.\n")


def test_an_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        prune("--user", "nobody")
