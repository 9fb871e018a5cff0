"""POST /api/realtime/handshake: the SDP relay, both flows, every refusal and failure."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core import serializers
from django.db import connection
from django.test import AsyncClient

from realtime.emulator.app import BETA_DISABLED
from realtime.emulator.errors import ApiError
from realtime.emulator.state import mask
from realtime.keys import fingerprint
from realtime.models import RealtimeSession, UpstreamExchange
from tests.conftest import SERVER_KEY
from tests.support.records import only_exchange

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]
URL = "/api/realtime/handshake"
WINDOW = 86_400  # the rate limit's window is aligned to the clock: never crossed in a test


async def relay_with_secret(browser, secret, body, content_type="application/sdp"):
    """What the official JS SDK sends to its baseUrl: the offer and a bearer ek_ secret."""
    return await browser.post(
        URL, data=body, content_type=content_type, headers={"Authorization": f"Bearer {secret}"}
    )


async def relay_unified(browser, csrf_token, body):
    """What our page sends by default: the offer with the session cookie and CSRF token."""
    return await browser.post(
        URL, data=body, content_type="application/sdp", headers={"X-CSRFToken": csrf_token}
    )


async def mint_through_the_page(browser, csrf_token):
    return await browser.post(
        "/api/realtime/client-secret",
        data="",
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )


# --- the ephemeral flow ----------------------------------------------------------------


async def test_relay_with_secret_returns_201_sdp_answer_and_call_id(
    browser, live_secret, browser_offer
):
    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 201
    assert response["Content-Type"] == "application/sdp"
    assert response.content.startswith(b"v=0\r\n")
    assert b"webrtc-datachannel" in response.content
    assert response["X-Realtime-Call-Id"].startswith("rtc_")
    assert response["Location"] == f"/v1/realtime/calls/{response['X-Realtime-Call-Id']}"
    assert response["Cache-Control"] == "no-store"


async def test_relay_forwards_the_secret_and_offer_unchanged(
    browser, emulator, live_secret, browser_offer
):
    secret = live_secret()

    await relay_with_secret(browser, secret, browser_offer)

    request = emulator.requests("/v1/realtime/calls")[-1]
    assert request["headers"]["authorization"] == f"Bearer {mask(secret)}"
    assert request["headers"]["content-type"] == "application/sdp"
    assert request["body"].encode() == browser_offer
    assert request["query"] == {"model": "gpt-realtime-2.1"}


async def test_relay_with_secret_needs_no_csrf_token(browser, live_secret, browser_offer):
    assert browser.handler.enforce_csrf_checks

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 201


async def test_relay_with_secret_is_allowed_without_login_when_login_is_required(
    browser, settings, live_secret, browser_offer
):
    settings.REALTIME_REQUIRE_LOGIN = True

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 201


async def test_relay_records_lengths_status_call_id_and_fingerprint(
    browser, live_secret, browser_offer
):
    secret = live_secret()

    response = await relay_with_secret(browser, secret, browser_offer)

    row = await only_exchange()
    assert row.kind == "call"
    assert row.transport == "webrtc"
    assert row.outcome == "ok"
    assert (row.upstream_status, row.http_status) == (201, 201)
    assert row.request_bytes == len(browser_offer)
    assert row.response_bytes == len(response.content)
    assert row.call_id == response["X-Realtime-Call-Id"]
    assert row.secret_fingerprint == fingerprint(secret)


async def test_relay_joins_the_session_its_secret_was_minted_in(browser, csrf_token, browser_offer):
    minted = await mint_through_the_page(browser, csrf_token)

    response = await relay_with_secret(browser, minted.json()["value"], browser_offer)

    assert response.status_code == 201
    session = await RealtimeSession.objects.aget()
    assert session.call_id == response["X-Realtime-Call-Id"]
    assert session.transport == "webrtc"
    kinds = [row.kind async for row in session.exchanges.order_by("id")]
    assert kinds == ["client_secret", "call"]


async def test_no_secret_or_server_key_is_stored_anywhere(browser, csrf_token, browser_offer):
    minted = await mint_through_the_page(browser, csrf_token)
    secret = minted.json()["value"]
    await relay_with_secret(browser, secret, browser_offer)
    await relay_with_secret(browser, SERVER_KEY, browser_offer)

    rows = [row async for row in UpstreamExchange.objects.all()]
    rows += [row async for row in RealtimeSession.objects.all()]
    stored = serializers.serialize("json", rows)
    assert secret not in stored
    assert SERVER_KEY not in stored


# --- the unified flow -------------------------------------------------------------------


async def test_unified_relay_posts_multipart_with_server_key_and_session(
    browser, csrf_token, emulator, settings, browser_offer
):
    settings.REALTIME_VOICE = "verse"

    response = await relay_unified(browser, csrf_token, browser_offer)

    assert response.status_code == 201
    assert response.content.startswith(b"v=0")
    request = emulator.requests("/v1/realtime/calls")[-1]
    assert request["headers"]["authorization"] == f"Bearer {mask(SERVER_KEY)}"
    parts = request["body"]["parts"]
    assert parts["sdp"].encode() == browser_offer
    session = json.loads(parts["session"])
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime-2.1"
    assert session["audio"]["output"]["voice"] == "verse"


async def test_unified_relay_starts_a_session_with_the_call_id(browser, csrf_token, browser_offer):
    response = await relay_unified(browser, csrf_token, browser_offer)

    row = await only_exchange()
    assert row.session.call_id == response["X-Realtime-Call-Id"]
    assert row.session.transport == "webrtc"
    assert row.secret_fingerprint == ""


async def test_unified_relay_without_csrf_token_is_refused(
    browser, csrf_token, emulator, browser_offer
):
    response = await browser.post(URL, data=browser_offer, content_type="application/sdp")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert emulator.requests("/v1/realtime/calls") == []
    row = await only_exchange()
    assert (row.outcome, row.error_code) == ("rejected", "csrf_failed")


async def test_unified_relay_requires_login_when_configured(
    browser, csrf_token, settings, browser_offer
):
    settings.REALTIME_REQUIRE_LOGIN = True

    response = await relay_unified(browser, csrf_token, browser_offer)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_required"
    assert (await only_exchange()).error_code == "login_required"


async def test_unified_relay_without_server_key_answers_503(
    browser, csrf_token, settings, browser_offer
):
    settings.OPENAI_API_KEY = ""

    response = await relay_unified(browser, csrf_token, browser_offer)

    assert response.status_code == 503
    assert (await only_exchange()).error_code == "server_not_configured"


async def test_relay_past_the_rate_limit_answers_429(
    browser, csrf_token, settings, emulator, live_secret, browser_offer
):
    settings.REALTIME_RATE_LIMIT = 1
    settings.REALTIME_RATE_LIMIT_WINDOW = 86_400  # aligned to the clock: never crossed here

    first = await relay_unified(browser, csrf_token, browser_offer)
    second = await relay_with_secret(browser, live_secret(), browser_offer)

    assert first.status_code == 201
    assert second.status_code == 429
    assert int(second["Retry-After"]) >= 1
    assert len(emulator.requests("/v1/realtime/calls")) == 1
    rows = [row.error_code async for row in UpstreamExchange.objects.order_by("id")]
    assert rows == ["", "rate_limited"]


# --- bad input ---------------------------------------------------------------------------


async def test_relay_rejects_an_offer_over_64_kib_with_413(
    browser, emulator, live_secret, browser_offer
):
    response = await relay_with_secret(browser, live_secret(), body=browser_offer + b"a=x" * 22_000)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.json()["error"]["hint"]
    assert emulator.requests("/v1/realtime/calls") == []
    row = await only_exchange()
    assert (row.outcome, row.error_code, row.http_status) == ("rejected", "request_too_large", 413)


async def test_relay_accepts_an_offer_of_exactly_64_kib(browser, live_secret, browser_offer):
    body = browser_offer + b"a" * (64 * 1024 - len(browser_offer))

    response = await relay_with_secret(browser, live_secret(), body=body)

    assert response.status_code == 201


async def test_relay_rejects_json_with_415(browser, live_secret):
    response = await relay_with_secret(
        browser,
        live_secret(),
        body=json.dumps({"sdp": "v=0"}),
        content_type="application/json",
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in response.json()["error"]["message"]
    assert (await only_exchange()).error_code == "unsupported_media_type"


async def test_relay_rejects_a_body_that_does_not_start_with_v_equals(
    browser, live_secret, browser_offer
):
    response = await relay_with_secret(browser, live_secret(), body=b"\r\n" + browser_offer)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_sdp"
    row = await only_exchange()
    assert (row.error_code, row.request_bytes) == ("invalid_sdp", len(browser_offer) + 2)


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {SERVER_KEY}",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "ek_without_scheme",
        # Characters no secret has: not ASCII (this once was a 500 with a debug page), a
        # space inside, and a length far past any secret's.
        "Bearer ek_\xe9\xff",
        "Bearer ek_abc def",
        "Bearer ek_" + "a" * 2000,
    ],
)
async def test_relay_rejects_a_credential_that_is_not_an_ek_secret_with_401(
    browser, emulator, authorization, browser_offer
):
    response = await browser.post(
        URL,
        data=browser_offer,
        content_type="application/sdp",
        headers={"Authorization": authorization},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_bearer"
    assert emulator.requests("/v1/realtime/calls") == []
    row = await only_exchange()
    assert (row.outcome, row.error_code, row.secret_fingerprint) == (
        "rejected",
        "invalid_bearer",
        "",
    )


async def test_relay_rejects_get_with_405(browser):
    response = await browser.get(URL)

    assert response.status_code == 405
    assert (await only_exchange()).error_code == "method_not_allowed"


async def test_a_refusal_with_a_known_secret_joins_its_session(browser, csrf_token):
    minted = await mint_through_the_page(browser, csrf_token)

    await relay_with_secret(browser, minted.json()["value"], b"not sdp")

    session = await RealtimeSession.objects.aget()
    outcomes = [row.outcome async for row in session.exchanges.order_by("id")]
    assert outcomes == ["ok", "rejected"]


# --- upstream failures -------------------------------------------------------------------


async def test_expired_secret_passes_through_401_with_a_hint_to_mint_again(
    browser, emulator, live_secret, browser_offer
):
    secret = live_secret()
    emulator.expire_secret(secret)

    response = await relay_with_secret(browser, secret, browser_offer)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith("Incorrect API key provided")
    assert "mint a fresh one" in error["hint"]
    row = await only_exchange()
    assert (row.outcome, row.upstream_status, row.error_code) == (
        "upstream_error",
        401,
        "invalid_api_key",
    )


async def test_beta_shape_error_passes_through_with_the_ga_hint(
    browser, emulator, live_secret, browser_offer
):
    # What the service answers a beta-shaped request; injected here because this relay
    # never sends one.
    emulator.fault("calls", status=400, body=BETA_DISABLED.body())

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "beta_api_shape_disabled"
    assert "client_secrets" in response.json()["error"]["hint"]
    row = await only_exchange()
    assert (row.outcome, row.upstream_status, row.error_code) == (
        "upstream_error",
        400,
        "beta_api_shape_disabled",
    )
    assert "Beta API is no longer supported" in row.upstream_error


async def test_upstream_empty_error_gets_the_version_mismatch_hint(
    browser, emulator, live_secret, browser_offer
):
    emulator.fault(
        "calls", status=400, body={"error": {"message": "", "type": "", "code": "", "param": ""}}
    )

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 400
    assert "GA API" in response.json()["error"]["hint"]
    assert (await only_exchange()).error_code == "upstream_400"


async def test_upstream_server_error_answers_502(browser, emulator, live_secret, browser_offer):
    emulator.fault("calls", status=503)

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_server_error"
    assert "503" in response.json()["error"]["message"]
    row = await only_exchange()
    assert (row.outcome, row.upstream_status) == ("upstream_error", 503)


async def test_a_failed_unified_call_ends_the_session_it_started(
    browser, csrf_token, emulator, browser_offer
):
    emulator.fault("calls", status=500)

    response = await relay_unified(browser, csrf_token, browser_offer)

    assert response.status_code == 502
    row = await only_exchange()
    assert row.session.ended_at is not None
    assert row.session.error_code == "upstream_server_error"


async def test_upstream_down_answers_502_and_leaves_a_row(
    browser, settings, unused_tcp_port, live_secret, browser_offer
):
    secret = live_secret()
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{unused_tcp_port}/v1"

    response = await relay_with_secret(browser, secret, browser_offer)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    row = await only_exchange()
    assert (row.outcome, row.request_bytes) == ("unreachable", len(browser_offer))


async def test_upstream_too_slow_answers_504(
    browser, emulator, settings, live_secret, browser_offer
):
    settings.REALTIME_READ_TIMEOUT = 0.3
    emulator.fault("calls", hang=True)

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 504
    row = await only_exchange()
    assert (row.outcome, row.error_code) == ("timeout", "upstream_timeout")
    assert row.upstream_ms >= 200


async def test_upstream_success_that_is_not_sdp_answers_502_not_the_body(
    browser, emulator, live_secret, browser_offer
):
    body = {"error": {"message": "", "type": "", "code": "", "param": ""}}
    emulator.fault("calls", status=201, body=body)

    response = await relay_with_secret(browser, live_secret(), browser_offer)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_invalid_answer"
    row = await only_exchange()
    assert (row.outcome, row.upstream_status) == ("invalid_answer", 201)
    assert json.loads(row.upstream_error) == body


async def test_upstream_error_bodies_are_truncated_when_stored(
    browser, emulator, settings, live_secret, browser_offer
):
    settings.REALTIME_ERROR_BODY_LIMIT = 1000
    emulator.fault("calls", status=400, body=ApiError("x" * 5000, code="bad").body())

    await relay_with_secret(browser, live_secret(), browser_offer)

    row = await only_exchange()
    assert len(row.upstream_error) < 1100
    assert row.upstream_error.endswith("more characters]")


async def test_answers_never_carry_the_server_key(browser, csrf_token, emulator, browser_offer):
    # The service masks keys in its messages; a relay must not rely on that.
    emulator.fault(
        "calls",
        status=401,
        body=ApiError(f"Incorrect API key provided: {SERVER_KEY}.", code="invalid_api_key").body(),
    )

    response = await relay_unified(browser, csrf_token, browser_offer)

    assert response.status_code == 401
    assert SERVER_KEY not in response.content.decode()
    assert SERVER_KEY not in (await only_exchange()).upstream_error


def _schema(operation: str) -> None:
    with connection.schema_editor() as editor:
        getattr(editor, operation)(UpstreamExchange)


async def test_a_failed_recording_does_not_fail_the_call(
    browser, caplog, live_secret, browser_offer
):
    await sync_to_async(_schema)("delete_model")  # a real database failure, not a mock
    try:
        response = await relay_with_secret(browser, live_secret(), browser_offer)
    finally:
        await sync_to_async(_schema)("create_model")

    assert response.status_code == 201
    assert response.content.startswith(b"v=0")
    assert "could not record the call exchange" in caplog.text


async def test_a_signed_in_user_has_a_limit_apart_from_anonymous_clients(
    browser, settings, live_secret, browser_offer
):
    settings.REALTIME_RATE_LIMIT = 1
    settings.REALTIME_RATE_LIMIT_WINDOW = 86_400  # aligned to the clock: never crossed here
    assert (await relay_with_secret(browser, live_secret(), browser_offer)).status_code == 201
    assert (await relay_with_secret(browser, live_secret(), browser_offer)).status_code == 429
    signed_in = AsyncClient(enforce_csrf_checks=True)
    user = await get_user_model().objects.acreate_user("grace", password="correct horse")
    await signed_in.aforce_login(user)
    token = (await signed_in.get("/")).cookies["csrftoken"].value

    response = await relay_unified(signed_in, token, browser_offer)

    assert response.status_code == 201
