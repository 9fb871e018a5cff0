"""GPT-Live rows beside Realtime's: which API a row is of, and what the admin shows of it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from realtime.diagnostics import Exchange, end_session, record_sync
from realtime.live_recorder import LiveConversationLog
from realtime.models import Api, ExchangeKind, RealtimeSession, Source, Transport

pytestmark = pytest.mark.django_db
SESSIONS = "admin:realtime_realtimesession_changelist"
EXCHANGES = "admin:realtime_upstreamexchange_changelist"
COST = "admin:realtime_realtimesession_cost"
BEFORE = [("realtime", "0008_staff_ends_sessions")]
AFTER = [("realtime", "0009_live_records")]


def exchange(api: str = Api.REALTIME, **fields) -> Exchange:
    return Exchange(
        kind=ExchangeKind.CALL,
        source=Source.WEB,
        api=api,
        transport=Transport.WEBRTC,
        upstream_status=201,
        upstream_ms=120.0,
        total_ms=125.0,
        **fields,
    )


@pytest.fixture
def live_session() -> RealtimeSession:
    return RealtimeSession.objects.create(
        source=Source.WEB,
        api=Api.LIVE,
        model="gpt-live-1.1",
        ended_at=timezone.now(),
        turns=2,
        usage_seconds=Decimal(120),
        active_seconds=Decimal(60),
        paused_seconds=Decimal(60),
        cost_usd=Decimal("0.07"),
    )


@pytest.mark.django_db(transaction=True)
def test_a_row_from_before_the_migration_is_of_the_realtime_api():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        session = old.get_model("realtime", "RealtimeSession").objects.create(source="web")
        executor.loader.build_graph()
        executor.migrate(AFTER)
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes("realtime"))

    assert RealtimeSession.objects.get(pk=session.pk).api == Api.REALTIME


def test_an_exchange_starts_a_session_of_its_api():
    row = record_sync(exchange(Api.LIVE, call_id="live_abc"))

    assert (row.api, row.session.api) == (Api.LIVE, Api.LIVE)


def test_the_session_list_shows_and_filters_by_api(admin_client, live_session):
    realtime = RealtimeSession.objects.create(source=Source.WEB, model="gpt-realtime-2.1")

    listing = admin_client.get(reverse(SESSIONS))
    live_only = admin_client.get(reverse(SESSIONS), {"api__exact": "live"})

    filters = [spec.title for spec in listing.context["cl"].filter_specs]
    assert "API" in filters
    assert "GPT-Live" in listing.content.decode()
    assert [row.pk for row in live_only.context["cl"].result_list] == [live_session.pk]
    assert realtime.pk in {row.pk for row in listing.context["cl"].result_list}


def test_the_exchange_list_shows_and_filters_by_api(admin_client):
    live = record_sync(exchange(Api.LIVE, call_id="live_abc"))
    record_sync(exchange(call_id="rtc_abc"))

    listing = admin_client.get(reverse(EXCHANGES))
    live_only = admin_client.get(reverse(EXCHANGES), {"api__exact": "live"})

    assert "API" in [spec.title for spec in listing.context["cl"].filter_specs]
    assert [row.pk for row in live_only.context["cl"].result_list] == [live.pk]


def test_a_live_session_lists_its_cost_of_seconds_not_zero_for_no_tokens(
    admin_client, live_session
):
    listing = admin_client.get(reverse(SESSIONS), {"api__exact": "live"})

    assert "$0.0700" in listing.content.decode()


def test_a_live_session_page_shows_its_api_and_billed_seconds(admin_client, live_session):
    page = admin_client.get(
        reverse("admin:realtime_realtimesession_change", args=[live_session.pk])
    )

    assert ("billed", "2:00 (60 s active, 60 s paused)") in page.context["totals"]
    assert "GPT-Live" in page.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_a_live_logs_totals_reach_the_session_row_as_a_realtime_logs_do():
    session = await RealtimeSession.objects.acreate(source=Source.WEB, api=Api.LIVE)
    log = LiveConversationLog(session.pk, "gpt-live-1.1", lambda session_id, record: True)
    log.server_event(
        {
            "type": "session.closed",
            "reason": "expired",
            "session": {"model": "gpt-live-1.1"},
            "usage": {"seconds": 90, "active_seconds": 90},
        }
    )

    await end_session(session.pk, end_reason=log.end_reason, **log.end_fields())

    row = await RealtimeSession.objects.aget(pk=session.pk)
    assert (row.end_reason, row.usage_seconds, row.active_seconds) == (
        "expired",
        Decimal(90),
        Decimal(90),
    )
    assert (row.paused_seconds, row.cost_usd) == (Decimal(0), Decimal("0.075"))
    assert row.total_tokens is None


def test_the_cost_per_day_adds_live_sessions_cost_of_seconds_and_splits_it_by_api(
    admin_client, live_session
):
    RealtimeSession.objects.create(
        source=Source.WEB, model="gpt-realtime-2.1", total_tokens=900, cost_usd=Decimal("1.5")
    )

    summary = admin_client.get(reverse(COST))

    [today] = summary.context["days"]
    assert (today["sessions"], today["live_sessions"], today["tokens"]) == (2, 1, 900)
    assert (today["realtime_cost_display"], today["live_cost_display"]) == ("$1.50", "$0.0700")
    assert (today["cost_display"], today["live_billed"]) == ("$1.57", "2:00")
    assert "GPT-Live billed" in summary.content.decode()


def test_a_live_session_billed_seconds_without_a_price_counts_as_unpriced(admin_client):
    RealtimeSession.objects.create(
        source=Source.WEB,
        api=Api.LIVE,
        model="gpt-live-unpriced",
        ended_at=timezone.now(),
        usage_seconds=Decimal(60),
    )

    [today] = admin_client.get(reverse(COST)).context["days"]

    assert (today["unpriced"], today["cost_display"], today["live_billed"]) == (
        1,
        "$0.0000",
        "1:00",
    )


@pytest.mark.django_db(transaction=True)
async def test_a_live_logs_backend_tokens_reach_the_session_rows_token_columns():
    session = await RealtimeSession.objects.acreate(source=Source.WEB, api=Api.LIVE)
    log = LiveConversationLog(session.pk, "gpt-live-1.1", lambda session_id, record: True)
    usage = {
        "input_tokens": 40,
        "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
        "output_tokens": 6,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 46,
    }
    log.server_event(
        {
            "type": "response.event",
            "event": {"type": "response.completed", "response": {"id": "resp_1", "usage": usage}},
        }
    )

    await end_session(session.pk, end_reason=log.end_reason, **log.end_fields())

    row = await RealtimeSession.objects.aget(pk=session.pk)
    assert (row.input_tokens, row.output_tokens, row.total_tokens) == (40, 6, 46)
    assert (row.cached_text_tokens, row.cost_usd) == (8, None)  # no seconds reported yet
