"""POST /api/realtime/client-secret: mint, refusals, upstream failures, and their records."""

import time

import pytest
from django.contrib.auth import get_user_model

from realtime import tokens
from realtime.emulator.errors import ApiError
from realtime.keys import fingerprint
from realtime.models import RealtimeSession, UpstreamExchange
from tests.conftest import SERVER_KEY
from tests.support.records import only_exchange

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]
URL = "/api/realtime/client-secret"


async def mint(browser, csrf_token, data="", content_type="application/json"):
    """Post as the page does: an empty body (or JSON) with the CSRF header."""
    return await browser.post(
        URL, data=data, content_type=content_type, headers={"X-CSRFToken": csrf_token}
    )


async def test_mint_returns_value_expiry_model_and_session(browser, csrf_token):
    response = await mint(browser, csrf_token)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"value", "expires_at", "model", "session"}
    assert body["value"].startswith("ek_")
    assert body["model"] == "gpt-realtime-2.1"
    assert body["session"]["type"] == "realtime"
    assert response["Cache-Control"] == "no-store"


async def test_mint_never_returns_the_server_key(browser, csrf_token):
    response = await mint(browser, csrf_token)

    assert SERVER_KEY not in response.content.decode()


async def test_mint_records_an_ok_exchange_with_the_fingerprint_not_the_secret(browser, csrf_token):
    response = await mint(browser, csrf_token)

    row = await only_exchange()
    secret = response.json()["value"]
    assert row.kind == "client_secret"
    assert row.source == "web"
    assert row.outcome == "ok"
    assert row.upstream_status == 200
    assert row.http_status == 200
    assert row.secret_fingerprint == fingerprint(secret)
    assert row.client_ip == "127.0.0.1"
    assert row.upstream_ms is not None
    assert row.total_ms >= row.upstream_ms
    assert row.session is not None
    assert row.session.secret_fingerprint == row.secret_fingerprint


async def test_mint_sends_the_configured_session(browser, csrf_token, emulator, settings):
    settings.REALTIME_VOICE = "cedar"
    settings.REALTIME_INSTRUCTIONS = "Speak like a pirate."
    settings.REALTIME_SECRET_TTL = 90

    await mint(browser, csrf_token)

    body = emulator.requests("/v1/realtime/client_secrets")[-1]["body"]
    assert body["expires_after"]["seconds"] == 90
    assert body["session"]["audio"]["output"]["voice"] == "cedar"
    assert body["session"]["instructions"] == "Speak like a pirate."


async def test_mint_without_csrf_token_is_refused_and_recorded(browser, csrf_token, emulator):
    response = await browser.post(URL, data="", content_type="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert response.json()["error"]["hint"]
    assert emulator.requests() == []
    row = await only_exchange()
    assert (row.outcome, row.error_code, row.http_status) == ("rejected", "csrf_failed", 403)
    assert row.upstream_status is None
    assert row.session is None


async def test_mint_requires_login_when_configured(browser, csrf_token, settings):
    settings.REALTIME_REQUIRE_LOGIN = True

    response = await mint(browser, csrf_token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_required"
    row = await only_exchange()
    assert (row.outcome, row.error_code) == ("rejected", "login_required")


async def test_mint_for_a_signed_in_user_records_the_user(browser, settings):
    settings.REALTIME_REQUIRE_LOGIN = True
    user = await get_user_model().objects.acreate_user("ada", password="correct horse")
    await browser.aforce_login(user)
    token = (await browser.get("/")).cookies["csrftoken"].value

    response = await mint(browser, token)

    assert response.status_code == 200
    row = await only_exchange()
    assert row.user_id == user.pk


async def test_mint_past_the_rate_limit_answers_429_with_retry_after(
    browser, csrf_token, settings, emulator
):
    settings.REALTIME_RATE_LIMIT = 2
    settings.REALTIME_RATE_LIMIT_WINDOW = 86_400  # aligned to the clock: never crossed here
    for _ in range(2):
        assert (await mint(browser, csrf_token)).status_code == 200

    response = await mint(browser, csrf_token)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 86_400
    assert response.json()["error"]["code"] == "rate_limited"
    assert len(emulator.requests()) == 2
    assert await RealtimeSession.objects.acount() == 2
    refused = await UpstreamExchange.objects.filter(error_code="rate_limited").aget()
    assert (refused.outcome, refused.http_status, refused.session_id) == ("rejected", 429, None)


async def test_mint_rejects_get_with_405(browser):
    response = await browser.get(URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    row = await only_exchange()
    assert row.error_code == "method_not_allowed"


async def test_mint_rejects_a_body_that_is_not_json(browser, csrf_token):
    response = await mint(browser, csrf_token, data="model=gpt", content_type="text/plain")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert (await only_exchange()).error_code == "invalid_json"


async def test_mint_rejects_parameters_the_server_decides(browser, csrf_token, emulator):
    response = await mint(browser, csrf_token, data={"model": "gpt-4o"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_parameter"
    assert "'model'" in response.json()["error"]["message"]
    assert emulator.requests() == []
    row = await only_exchange()
    assert (row.outcome, row.error_code, row.http_status) == ("rejected", "unknown_parameter", 400)


async def test_mint_accepts_an_empty_json_object(browser, csrf_token):
    response = await mint(browser, csrf_token, data={})

    assert response.status_code == 200


async def test_mint_rejects_an_oversized_body_with_413(browser, csrf_token):
    response = await mint(browser, csrf_token, data="{" + " " * 70_000 + "}")

    assert response.status_code == 413
    assert (await only_exchange()).error_code == "request_too_large"


async def test_mint_refuses_deeply_nested_json_as_invalid_json(browser, csrf_token):
    response = await mint(browser, csrf_token, data="[" * 5000 + "]" * 5000)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert (await only_exchange()).error_code == "invalid_json"


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("multipart/form-data; boundary=", "--\r\nnot a part"),
        ("multipart/form-data", "no boundary at all"),
        # More fields than Django's DATA_UPLOAD_MAX_NUMBER_FIELDS, well within the size limit.
        ("application/x-www-form-urlencoded", "&".join(f"f{n}=1" for n in range(1500))),
    ],
)
async def test_a_form_body_is_never_parsed_for_the_csrf_check(
    browser, csrf_token, content_type, data
):
    response = await mint(browser, csrf_token, data=data, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert (await only_exchange()).error_code == "invalid_json"


async def test_a_csrf_token_counts_only_in_the_header(browser, csrf_token):
    response = await browser.post(
        URL,
        data=f"csrfmiddlewaretoken={csrf_token}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 403
    assert (await only_exchange()).error_code == "csrf_failed"


async def test_mint_without_a_server_key_answers_503(browser, csrf_token, settings, emulator):
    settings.OPENAI_API_KEY = ""

    response = await mint(browser, csrf_token)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "server_not_configured"
    assert "OPENAI_API_KEY" in response.json()["error"]["hint"]
    assert emulator.requests() == []
    assert (await only_exchange()).error_code == "server_not_configured"


async def test_upstream_unknown_parameter_passes_through_with_its_body_and_a_hint(
    browser, csrf_token, emulator
):
    upstream_body = ApiError(
        "Unknown parameter: 'model'.", code="unknown_parameter", param="model"
    ).body()
    emulator.fault("client_secrets", status=400, body=upstream_body)

    response = await mint(browser, csrf_token)

    assert response.status_code == 400
    error = response.json()["error"]
    assert {key: error[key] for key in upstream_body["error"]} == upstream_body["error"]
    assert "inside 'session'" in error["hint"]
    row = await only_exchange()
    assert (row.outcome, row.upstream_status, row.http_status) == ("upstream_error", 400, 400)
    assert row.error_code == "unknown_parameter"
    assert "Unknown parameter: 'model'." in row.upstream_error


async def test_upstream_rejecting_the_server_key_hints_at_openai_api_key(
    browser, csrf_token, settings
):
    settings.OPENAI_API_KEY = "not-a-key"

    response = await mint(browser, csrf_token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "OPENAI_API_KEY" in response.json()["error"]["hint"]
    assert (await only_exchange()).upstream_status == 401


async def test_upstream_rate_limit_passes_through_with_retry_after(browser, csrf_token, emulator):
    emulator.fault("client_secrets", status=429, retry_after=12)

    response = await mint(browser, csrf_token)

    assert response.status_code == 429
    assert response["Retry-After"] == "12"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    row = await only_exchange()
    assert (row.outcome, row.upstream_status, row.error_code) == (
        "upstream_error",
        429,
        "rate_limit_exceeded",
    )


async def test_upstream_server_error_answers_502(browser, csrf_token, emulator):
    emulator.fault("client_secrets", status=500)

    response = await mint(browser, csrf_token)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_server_error"
    row = await only_exchange()
    assert (row.outcome, row.upstream_status, row.error_code) == (
        "upstream_error",
        500,
        "upstream_server_error",
    )
    assert "The server had an error" in row.upstream_error  # the service's own wording


async def test_an_answer_cut_short_answers_502_answer_lost(browser, csrf_token, emulator):
    emulator.fault("client_secrets", truncate=True)

    response = await mint(browser, csrf_token)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_answer_lost"
    row = await only_exchange()
    assert (row.outcome, row.error_code) == ("unreachable", "upstream_answer_lost")


async def test_a_failed_mint_ends_the_session_it_started(browser, csrf_token, emulator):
    emulator.fault("client_secrets", status=500)

    await mint(browser, csrf_token)

    session = (await only_exchange()).session
    assert session.ended_at is not None
    assert session.error_code == "upstream_server_error"


async def test_upstream_down_answers_502_and_records_unreachable(
    browser, csrf_token, settings, unused_tcp_port
):
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{unused_tcp_port}/v1"

    response = await mint(browser, csrf_token)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    row = await only_exchange()
    assert (row.outcome, row.error_code, row.upstream_status) == (
        "unreachable",
        "upstream_unreachable",
        None,
    )
    assert "ConnectError" in row.upstream_error


async def test_upstream_too_slow_answers_504_and_records_timeout(
    browser, csrf_token, settings, emulator
):
    settings.REALTIME_READ_TIMEOUT = 0.3
    emulator.fault("client_secrets", hang=True)

    response = await mint(browser, csrf_token)

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    row = await only_exchange()
    assert (row.outcome, row.error_code) == ("timeout", "upstream_timeout")


async def test_upstream_success_without_a_secret_answers_502(browser, csrf_token, emulator):
    emulator.fault(
        "client_secrets", status=200, body="<html>captive portal</html>", content_type="text/html"
    )

    response = await mint(browser, csrf_token)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_invalid_answer"
    row = await only_exchange()
    assert (row.outcome, row.upstream_status) == ("invalid_answer", 200)
    assert "captive portal" in row.upstream_error


async def test_a_websocket_mint_returns_a_proxy_token_without_asking_openai(
    browser, csrf_token, emulator
):
    response = await mint(browser, csrf_token, data={"transport": "websocket"})

    assert response.status_code == 200
    body = response.json()
    assert body["value"].startswith("rtp_")
    assert tokens.verify(body["value"]).user_id is None
    assert body["expires_at"] == pytest.approx(time.time() + 600, abs=5)
    assert (body["transport"], body["model"]) == ("websocket", "gpt-realtime-2.1")
    assert body["websocket_base_url"] == "ws://testserver/v1"
    assert response["Cache-Control"] == "no-store"
    assert emulator.requests("/v1/realtime/client_secrets") == []
    row = await only_exchange()
    assert (row.kind, row.transport, row.outcome) == ("client_secret", "websocket", "ok")
    assert row.secret_fingerprint == fingerprint(body["value"])
    assert row.upstream_status is None
    assert row.session is None  # nothing reached OpenAI; the proxy session will have its own


async def test_a_websocket_mint_binds_the_token_to_the_signed_in_user(browser):
    user = await get_user_model().objects.acreate_user("grace", password="correct horse")
    await browser.aforce_login(user)
    token = (await browser.get("/")).cookies["csrftoken"].value

    response = await mint(browser, token, data={"transport": "websocket"})

    assert tokens.verify(response.json()["value"]).user_id == user.pk


async def test_a_websocket_mint_needs_csrf_like_any_mint(browser, csrf_token):
    response = await browser.post(
        URL, data={"transport": "websocket"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_an_unknown_transport_is_refused_and_recorded(browser, csrf_token):
    response = await mint(browser, csrf_token, data={"transport": "carrier-pigeon"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_transport"
    row = await only_exchange()
    assert (row.outcome, row.error_code) == ("rejected", "invalid_transport")
