"""realtime.diagnostics: one row per exchange, grouped into sessions, never blocking a call."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from realtime.diagnostics import Exchange, record, record_sync, truncate
from realtime.models import ExchangeKind, Outcome, RealtimeSession, Source, UpstreamExchange

pytestmark = pytest.mark.django_db


def exchange(**fields) -> Exchange:
    fields.setdefault("upstream_ms", 0.5)
    fields.setdefault("kind", ExchangeKind.CALL)
    return Exchange(source=Source.WEB, total_ms=1.0, **fields)


def test_an_exchange_that_reached_upstream_starts_a_session():
    row = record_sync(exchange(call_id="rtc_1", transport="webrtc", model="gpt-realtime"))

    assert row.session.call_id == "rtc_1"
    assert row.session.model == "gpt-realtime"


def test_a_proxy_token_mint_that_never_reached_upstream_starts_no_session():
    row = record_sync(
        Exchange(
            kind=ExchangeKind.CLIENT_SECRET,
            source=Source.WEB,
            transport="websocket",
            secret_fingerprint="rtp_abc…12",
        )
    )

    assert row.session is None
    assert RealtimeSession.objects.count() == 0


def test_a_refused_exchange_without_a_known_secret_has_no_session():
    row = record_sync(exchange(outcome=Outcome.REJECTED, error_code="invalid_sdp"))

    assert row.session is None
    assert RealtimeSession.objects.count() == 0


def test_a_call_with_a_minted_secret_joins_the_mints_session_and_sets_its_call_id():
    mint = record_sync(
        Exchange(
            kind=ExchangeKind.CLIENT_SECRET,
            source=Source.WEB,
            secret_fingerprint="ek_1…ab",
            upstream_ms=0.5,
        )
    )

    call = record_sync(exchange(secret_fingerprint="ek_1…ab", call_id="rtc_9", transport="webrtc"))

    assert call.session_id == mint.session_id
    mint.session.refresh_from_db()
    assert (mint.session.call_id, mint.session.transport) == ("rtc_9", "webrtc")


def test_an_ok_exchange_starts_a_session_that_stays_open():
    row = record_sync(exchange(kind=ExchangeKind.CLIENT_SECRET, secret_fingerprint="ek_2…cd"))

    assert (row.session.ended_at, row.session.error_code) == (None, "")


@pytest.mark.parametrize(
    ("kind", "outcome", "code"),
    [
        (ExchangeKind.CLIENT_SECRET, Outcome.UPSTREAM_ERROR, "upstream_server_error"),
        (ExchangeKind.CALL, Outcome.TIMEOUT, "upstream_timeout"),
        (ExchangeKind.CALL, Outcome.UNREACHABLE, "upstream_answer_lost"),
    ],
)
def test_a_session_started_by_a_failure_is_over_as_it_starts(kind, outcome, code):
    row = record_sync(exchange(kind=kind, outcome=outcome, error_code=code))

    assert row.session.ended_at is not None
    assert row.session.error_code == code


def test_a_session_started_by_a_hangup_is_over_as_it_starts():
    row = record_sync(exchange(kind=ExchangeKind.HANGUP, call_id="rtc_unknown"))

    assert row.session.ended_at is not None


def test_a_failure_joining_a_session_leaves_that_session_as_it_was():
    mint = record_sync(exchange(kind=ExchangeKind.CLIENT_SECRET, secret_fingerprint="ek_3…ef"))

    call = record_sync(
        exchange(secret_fingerprint="ek_3…ef", outcome=Outcome.TIMEOUT, error_code="x")
    )

    assert call.session_id == mint.session_id
    assert call.session.ended_at is None


def test_nul_characters_are_dropped_from_stored_text():
    row = record_sync(
        exchange(user_agent="curl\x00/8", outcome=Outcome.UPSTREAM_ERROR, upstream_error="a\x00b")
    )

    assert (row.user_agent, row.session.user_agent) == ("curl/8", "curl/8")
    assert row.upstream_error == "ab"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("joins", [False, True])
def test_recording_starts_its_transaction_by_writing(joins):
    if joins:
        record_sync(exchange(kind=ExchangeKind.CLIENT_SECRET, secret_fingerprint="ek_4…01"))

    with CaptureQueriesContext(connection) as queries:
        record_sync(exchange(secret_fingerprint="ek_4…01", call_id="rtc_4"))

    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    begin = statements.index("BEGIN")
    assert statements[begin + 1] in {"INSERT", "UPDATE"}, statements


def test_stored_error_bodies_are_redacted_and_truncated(settings):
    settings.REALTIME_ERROR_BODY_LIMIT = 300
    body = "leaked sk-" + "abcdefghijklmnopqrstuvwxyz " + "x" * 1000

    row = record_sync(exchange(outcome=Outcome.UPSTREAM_ERROR, upstream_error=body))

    assert "abcdefghijklmnop" not in row.upstream_error
    assert row.upstream_error.startswith("leaked sk-…redacted")
    assert row.upstream_error.endswith("more characters]")


def test_long_user_agents_are_cut_to_the_column():
    row = record_sync(exchange(user_agent="Mozilla/5.0 " * 100))

    assert len(row.user_agent) == 512
    assert len(row.session.user_agent) == 512


def test_truncate_keeps_short_text_and_says_how_much_was_cut():
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghij-more", 10) == "abcdefghij… [5 more characters]"


def test_every_exchange_is_logged_with_its_sizes_and_outcome(caplog):
    caplog.set_level(logging.INFO, logger="realtime")  # a project may log less by default
    record_sync(
        exchange(request_bytes=120, response_bytes=340, upstream_status=201, call_id="rtc_2")
    )

    assert "call ok status=201/- request=120B response=340B" in caplog.text
    assert "call=rtc_2" in caplog.text


@pytest.mark.django_db(transaction=True)
async def test_record_works_from_async_code():
    row = await record(exchange(call_id="rtc_async"))

    assert await UpstreamExchange.objects.filter(call_id="rtc_async").aexists()
    assert row.pk is not None
