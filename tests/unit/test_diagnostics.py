"""realtime.diagnostics: one row per exchange, grouped into sessions, never blocking a call."""

import logging

import pytest

from realtime.diagnostics import Exchange, record, record_sync, truncate
from realtime.models import ExchangeKind, Outcome, RealtimeSession, Source, UpstreamExchange

pytestmark = pytest.mark.django_db


def exchange(**fields) -> Exchange:
    fields.setdefault("upstream_ms", 0.5)
    return Exchange(kind=ExchangeKind.CALL, source=Source.WEB, total_ms=1.0, **fields)


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
