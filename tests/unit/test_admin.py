"""The diagnostics admin: visible failures, filters, search, read-only, CSV."""

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import messages
from django.urls import reverse
from django.utils import timezone

from realtime import retirements
from realtime.diagnostics import Exchange, record_sync
from realtime.models import (
    Agent,
    ConversationEntry,
    ExchangeKind,
    Outcome,
    RealtimeSession,
    ResponseRecord,
    Source,
    UpstreamExchange,
)

pytestmark = pytest.mark.django_db
EXCHANGES = "admin:realtime_upstreamexchange_changelist"
SESSIONS = "admin:realtime_realtimesession_changelist"
UPSTREAM_ERROR = json.dumps(
    {
        "error": {
            "message": "Unknown parameter: 'model'.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "unknown_parameter",
        }
    }
)


@pytest.fixture
def rows() -> dict[str, UpstreamExchange]:
    mint = record_sync(
        Exchange(
            kind=ExchangeKind.CLIENT_SECRET,
            source=Source.WEB,
            upstream_status=200,
            http_status=200,
            upstream_ms=85.5,
            total_ms=90.25,
            response_bytes=900,
            secret_fingerprint="ek_abcd…0011",
            client_ip="203.0.113.9",
        )
    )
    call = record_sync(
        Exchange(
            kind=ExchangeKind.CALL,
            source=Source.WEB,
            transport="webrtc",
            upstream_status=201,
            http_status=201,
            upstream_ms=310.0,
            total_ms=318.0,
            request_bytes=4100,
            response_bytes=1200,
            call_id="rtc_u1_feedface",
            secret_fingerprint="ek_abcd…0011",
        )
    )
    failed = record_sync(
        Exchange(
            kind=ExchangeKind.CLIENT_SECRET,
            source=Source.CLI,
            outcome=Outcome.UPSTREAM_ERROR,
            error_code="unknown_parameter",
            upstream_status=400,
            upstream_ms=40.0,
            total_ms=41.0,
            upstream_error=UPSTREAM_ERROR,
        )
    )
    refused = record_sync(
        Exchange(
            kind=ExchangeKind.CALL,
            source=Source.WEB,
            outcome=Outcome.REJECTED,
            error_code="invalid_sdp",
            http_status=400,
            total_ms=0.4,
            request_bytes=12,
        )
    )
    return {"mint": mint, "call": call, "failed": failed, "refused": refused}


def test_exchange_list_shows_the_columns_that_explain_a_failure(admin_client, rows):
    response = admin_client.get(reverse(EXCHANGES))

    assert response.status_code == 200
    page = response.content.decode()
    for column in (
        "Time",
        "Kind",
        "Outcome",
        "Upstream status",
        "Our status",
        "Upstream ms",
        "Total ms",
        "Request bytes",
        "Response bytes",
        "Error code",
        "Session",
    ):
        assert column in page, column
    assert "unknown_parameter" in page
    assert "rejected before upstream" in page
    assert "310.0" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind__exact": "call"}, {"call", "refused"}),
        ({"outcome__exact": "upstream_error"}, {"failed"}),
        ({"upstream_status": "201"}, {"call"}),
        ({"transport__exact": "webrtc"}, {"call"}),
        ({"source__exact": "cli"}, {"failed"}),
        ({"q": "rtc_u1_feedface"}, {"call"}),
        ({"q": "203.0.113.9"}, {"mint"}),
        ({"q": "Unknown parameter"}, {"failed"}),
        ({"q": "invalid_sdp"}, {"refused"}),
    ],
)
def test_exchange_list_filters_and_searches(admin_client, rows, query, expected):
    response = admin_client.get(reverse(EXCHANGES), query)

    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == {rows[name].pk for name in expected}


def test_exchange_list_drills_down_by_date(admin_client, rows):
    today = timezone.localtime(rows["mint"].created_at)  # the admin drills down by local day

    day = admin_client.get(
        reverse(EXCHANGES),
        {
            "created_at__year": today.year,
            "created_at__month": today.month,
            "created_at__day": today.day,
        },
    )
    other_year = admin_client.get(reverse(EXCHANGES), {"created_at__year": today.year - 1})

    assert day.context["cl"].date_hierarchy == "created_at"
    assert len(day.context["cl"].result_list) == 4
    assert len(other_year.context["cl"].result_list) == 0


def test_exchange_list_filters_by_date_range(admin_client, rows):
    today = rows["mint"].created_at.date()
    past = today.replace(year=today.year - 1)

    # The admin's own date filter links look like this: midnight, with the time zone.
    recent = admin_client.get(reverse(EXCHANGES), {"created_at__gte": f"{today} 00:00:00+00:00"})
    old = admin_client.get(reverse(EXCHANGES), {"created_at__lt": f"{past} 00:00:00+00:00"})

    assert len(recent.context["cl"].result_list) == 4
    assert len(old.context["cl"].result_list) == 0


def test_exchange_detail_pretty_prints_the_error_body_and_links_its_session(admin_client, rows):
    failed = rows["failed"]

    response = admin_client.get(reverse("admin:realtime_upstreamexchange_change", args=[failed.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<pre" in page
    assert "&quot;message&quot;: &quot;Unknown parameter: &#x27;model&#x27;.&quot;,\n" in page
    assert reverse("admin:realtime_realtimesession_change", args=[failed.session_id]) in page


def test_session_detail_lists_its_exchanges_with_links(admin_client, rows):
    session = rows["call"].session

    response = admin_client.get(reverse("admin:realtime_realtimesession_change", args=[session.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    for name in ("mint", "call"):
        assert reverse("admin:realtime_upstreamexchange_change", args=[rows[name].pk]) in page


def test_session_list_counts_exchanges_and_filters_failed_sessions(admin_client, rows):
    response = admin_client.get(reverse(SESSIONS))
    assert response.status_code == 200
    counts = {s.pk: (s.exchange_count, s.failure_count) for s in response.context["cl"].result_list}
    assert counts[rows["call"].session_id] == (2, 0)
    assert counts[rows["failed"].session_id] == (1, 1)

    failed_only = admin_client.get(reverse(SESSIONS), {"health": "failed"})

    assert [s.pk for s in failed_only.context["cl"].result_list] == [rows["failed"].session_id]


def test_a_proxied_session_shows_its_closes_tokens_and_why_it_ended(admin_client, rows):
    proxied = RealtimeSession.objects.create(
        source=Source.WEBSOCKET_PROXY,
        transport="websocket",
        error_code="idle_timeout",
        client_close_code=4408,
        client_close_reason="invalid_request_error.idle_timeout",
        upstream_close_code=1000,
        frames_from_client=120,
        bytes_from_client=160_000,
        frames_to_client=80,
        bytes_to_client=410_000,
        input_tokens=40,
        output_tokens=60,
        total_tokens=100,
    )

    listing = admin_client.get(reverse(SESSIONS))
    failed_only = admin_client.get(reverse(SESSIONS), {"health": "failed"})
    by_code = admin_client.get(reverse(SESSIONS), {"error_code": "idle_timeout"})
    detail = admin_client.get(reverse("admin:realtime_realtimesession_change", args=[proxied.pk]))

    page = listing.content.decode()
    assert "4408 / 1000" in page
    assert "idle_timeout" in page
    assert proxied.pk in [s.pk for s in failed_only.context["cl"].result_list]
    assert [s.pk for s in by_code.context["cl"].result_list] == [proxied.pk]
    assert "invalid_request_error.idle_timeout" in detail.content.decode()
    assert "410000" in detail.content.decode() or "410,000" in detail.content.decode()


def test_a_session_a_stopped_process_left_open_shows_its_process_and_end(admin_client):
    swept = RealtimeSession.objects.create(
        source=Source.WEBSOCKET_PROXY,
        transport="websocket",
        server_process="web-1:4242:boot.777",
        error_code="server_stopped",
        ended_at=timezone.now(),
    )

    found = admin_client.get(reverse(SESSIONS), {"q": "web-1:4242"})
    detail = admin_client.get(reverse("admin:realtime_realtimesession_change", args=[swept.pk]))

    assert [s.pk for s in found.context["cl"].result_list] == [swept.pk]
    page = detail.content.decode()
    assert "web-1:4242:boot.777" in page
    assert "server_stopped" in page


def test_diagnostics_cannot_be_added_or_changed(admin_client, rows):
    add = admin_client.get(reverse("admin:realtime_upstreamexchange_add"))
    change = admin_client.post(
        reverse("admin:realtime_upstreamexchange_change", args=[rows["call"].pk]),
        {"error_code": "tampered"},
    )

    assert add.status_code == 403
    assert change.status_code == 403
    rows["call"].refresh_from_db()
    assert rows["call"].error_code == ""
    session_add = admin_client.get(reverse("admin:realtime_realtimesession_add"))
    assert session_add.status_code == 403


def test_csv_export_writes_every_selected_row(admin_client, rows):
    response = admin_client.post(
        reverse(EXCHANGES),
        {"action": "export_as_csv", "_selected_action": [rows["call"].pk, rows["failed"].pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["call_id"] for row in table] == ["rtc_u1_feedface", ""]
    assert table[1]["upstream_error"] == UPSTREAM_ERROR
    assert table[0]["request_bytes"] == "4100"


def test_csv_export_defuses_cells_a_spreadsheet_would_run(admin_client):
    row = record_sync(
        Exchange(
            kind=ExchangeKind.CALL,
            source=Source.WEB,
            total_ms=1,
            user_agent='=HYPERLINK("http://evil")',
        )
    )

    response = admin_client.post(
        reverse(EXCHANGES), {"action": "export_as_csv", "_selected_action": [row.pk]}
    )

    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert table[0]["user_agent"] == '\'=HYPERLINK("http://evil")'


def test_session_csv_export(admin_client, rows):
    response = admin_client.post(
        reverse(SESSIONS),
        {"action": "export_as_csv", "_selected_action": [rows["call"].session_id]},
    )

    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["call_id"] for row in table] == ["rtc_u1_feedface"]


@pytest.mark.parametrize(
    ("today", "level", "text"),
    [
        (date(2026, 12, 2), messages.WARNING, "shuts gpt-realtime down on 2027-01-20"),
        (date(2027, 1, 20), messages.ERROR, "shut gpt-realtime down on 2027-01-20"),
    ],
)
def test_the_session_list_says_when_a_configured_model_retires(
    admin_client, settings, monkeypatch, today, level, text
):
    settings.REALTIME_MODEL = "gpt-realtime"
    monkeypatch.setattr(retirements, "utc_today", lambda: today)

    response = admin_client.get(reverse(SESSIONS))

    [message] = response.context["messages"]
    assert message.level == level
    assert message.message.startswith(f"REALTIME_MODEL: OpenAI {text}; use gpt-realtime-2.1")


def test_the_session_list_has_no_model_message_for_current_models(admin_client):
    response = admin_client.get(reverse(SESSIONS))

    assert list(response.context["messages"]) == []


def test_the_admin_is_for_staff_only(client, django_user_model, rows):
    user = django_user_model.objects.create_user("visitor", password="correct horse")
    client.force_login(user)

    response = client.get(reverse(EXCHANGES))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_session_str_names_its_call():
    session = RealtimeSession(transport="webrtc", call_id="rtc_1")

    assert str(session) == "WebRTC rtc_1"


@pytest.fixture
def conversation(django_user_model) -> RealtimeSession:
    """An ended session with a spoken turn, a tool call, an error and a priced response."""
    user = django_user_model.objects.create(username="ada")
    started = timezone.now() - timezone.timedelta(minutes=2)
    session = RealtimeSession.objects.create(
        source=Source.WEB,
        transport="webrtc",
        model="gpt-realtime-2.1",
        user=user,
        call_id="rtc_timeline",
        end_reason="hangup",
        turns=1,
        total_tokens=320,
        cost_usd=Decimal("0.012345"),
    )
    RealtimeSession.objects.filter(pk=session.pk).update(
        started_at=started, ended_at=started + timezone.timedelta(seconds=83)
    )
    session.refresh_from_db()

    def at(seconds: float):
        return started + timezone.timedelta(seconds=seconds)

    ConversationEntry.objects.bulk_create(
        [
            ConversationEntry(session=session, at=at(1), kind="sideband", status="attached"),
            ConversationEntry(
                session=session,
                at=at(5),
                kind="user_speech",
                item_id="item_u",
                text="Where is my order?",
            ),
            ConversationEntry(
                session=session,
                at=at(7),
                kind="function_call",
                name="lookup_order",
                tool_call_id="call_1",
                text='{"order": 42}',
                status="completed",
            ),
            ConversationEntry(
                session=session,
                at=at(8),
                kind="error",
                name="invalid_value",
                text="Something was refused.",
            ),
            ConversationEntry(
                session=session,
                at=at(9),
                kind="assistant",
                item_id="item_a",
                text="It ships tomorrow.",
                status="completed",
            ),
        ]
    )
    ResponseRecord.objects.create(
        session=session,
        response_id="resp_1",
        created_at=at(6),
        status="completed",
        turn_to_created_ms=212.4,
        turn_to_first_output_ms=640.6,
        turn_to_done_ms=1830.2,
        input_text_tokens=59,
        input_audio_tokens=73,
        output_text_tokens=41,
        output_audio_tokens=147,
        cost_usd=Decimal("0.012345"),
    )
    return session


def test_a_sessions_page_reads_like_the_conversation(admin_client, conversation):
    detail = admin_client.get(
        reverse("admin:realtime_realtimesession_change", args=[conversation.pk])
    )

    page = detail.content.decode()
    assert [row.label for row in detail.context["timeline"]] == [
        "sideband attached",
        "user (spoken)",
        "response completed",
        "function call: lookup_order",
        "error: invalid_value",
        "assistant",
    ]
    for shown in ("Where is my order?", "It ships tomorrow.", "{&quot;order&quot;: 42}"):
        assert shown in page
    assert "212 ms" in page
    assert "1,830 ms" in page
    assert "1:23" in page  # the duration as m:ss
    assert "$0.0123" in page
    assert 'class="error"' in page


def test_the_session_list_shows_duration_turns_cost_and_end_reason(admin_client, conversation):
    listing = admin_client.get(reverse(SESSIONS))

    page = listing.content.decode()
    assert "1:23" in page
    assert "$0.0123" in page
    assert "hangup" in page


def test_an_unpriced_session_costs_unknown_never_zero(admin_client):
    RealtimeSession.objects.create(
        source=Source.WEB, model="house-model", turns=1, total_tokens=50, ended_at=timezone.now()
    )

    assert "unknown" in admin_client.get(reverse(SESSIONS)).content.decode()


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"q": "order"}, True),  # the transcript's text
        ({"end_reason": "hangup"}, True),
        ({"end_reason": "idle_timeout"}, False),
        ({"model": "gpt-realtime-2.1"}, True),
        ({"transport__exact": "websocket"}, False),
    ],
)
def test_sessions_are_searched_by_transcript_and_filtered_by_reason_model_transport(
    admin_client, conversation, query, found
):
    listing = admin_client.get(reverse(SESSIONS), query)

    assert ([s.pk for s in listing.context["cl"].result_list] == [conversation.pk]) is found


def test_sessions_are_filtered_by_user(admin_client, conversation):
    listing = admin_client.get(reverse(SESSIONS), {"user__id__exact": conversation.user_id})

    assert [s.pk for s in listing.context["cl"].result_list] == [conversation.pk]


def test_the_cost_per_day_sums_sessions_by_day_and_user(admin_client, conversation):
    RealtimeSession.objects.create(source=Source.WEB, cost_usd=Decimal("1.5"), turns=2)

    summary = admin_client.get(reverse("admin:realtime_realtimesession_cost"))

    assert summary.status_code == 200
    [today] = summary.context["days"]
    assert (today["sessions"], today["turns"], today["cost_display"]) == (2, 3, "$1.51")
    by_user = {row["user"]: row["cost_display"] for row in summary.context["user_days"]}
    assert by_user == {"ada": "$0.0123", None: "$1.50"}
    assert (
        reverse("admin:realtime_realtimesession_cost")
        in admin_client.get(reverse(SESSIONS)).content.decode()
    )


def test_a_sessions_page_shows_its_server_tool_runs_and_the_agent_version_it_used(
    admin_client, conversation
):
    agent = Agent.objects.create(name="Concierge", slug="concierge", instructions="Be warm.")
    agent.instructions = "Be warmer."
    agent.save()  # version 2; the session started with version 1
    RealtimeSession.objects.filter(pk=conversation.pk).update(
        agent=agent, agent_revision=agent.revisions.get(version=1)
    )
    ConversationEntry.objects.create(
        session=conversation,
        at=conversation.started_at + timezone.timedelta(seconds=7.5),
        kind="tool_run",
        name="lookup_order",
        tool_call_id="call_1",
        text='{"error": "TimeoutError"}',
        status="timeout",
        duration_ms=10003.7,
    )

    detail = admin_client.get(
        reverse("admin:realtime_realtimesession_change", args=[conversation.pk])
    )

    (run,) = [row for row in detail.context["timeline"] if row.label.startswith("server tool run")]
    assert run.label == "server tool run: lookup_order"
    assert run.who == "error"  # a timed-out run stands out
    assert run.details == "call_1 · ran 10,004 ms · timeout"
    assert ("agent", "Concierge v1") in detail.context["totals"]
