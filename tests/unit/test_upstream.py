"""realtime.upstream against a loopback server playing OpenAI."""

import json
import socket

import pytest

from realtime import upstream
from realtime.conf import get_settings
from tests.conftest import SERVER_KEY
from tests.support.fake_openai import ANSWER_SDP, Reply, openai_error

OFFER = b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def session_config() -> dict:
    return get_settings().session_config()


async def test_mint_posts_the_ga_body_with_model_inside_session(fake_openai):
    secret = await upstream.mint_client_secret(session_config(), 120)

    request = fake_openai.received[-1]
    body = request.json()
    assert request.path == "/v1/realtime/client_secrets"
    assert set(body) == {"expires_after", "session"}
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 120}
    assert body["session"]["type"] == "realtime"
    assert body["session"]["model"] == "gpt-realtime"
    assert body["session"]["audio"]["output"]["voice"] == "marin"
    assert body["session"]["instructions"]
    assert secret.value.startswith("ek_")
    assert secret.session["model"] == "gpt-realtime"


async def test_requests_carry_the_bearer_and_no_beta_header(fake_openai):
    await upstream.mint_client_secret(session_config(), 600)

    headers = fake_openai.received[-1].headers
    assert headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert "openai-beta" not in headers


async def test_one_pooled_client_serves_every_request_on_a_loop():
    first = upstream.get_client()
    await upstream.mint_client_secret(session_config(), 600)
    await upstream.mint_client_secret(session_config(), 600)

    assert upstream.get_client() is first


async def test_aclose_closes_the_client_and_the_next_use_makes_a_new_one():
    first = upstream.get_client()
    await upstream.aclose()

    assert first.is_closed
    assert upstream.get_client() is not first


async def test_create_call_with_ek_secret_sends_the_raw_offer_unchanged(fake_openai):
    secret = fake_openai.mint()
    offer = OFFER + b"a=trailing\r\n\r\n"

    answer = await upstream.create_call(offer, secret)

    request = fake_openai.received[-1]
    assert request.path == "/v1/realtime/calls"
    assert request.query == {"model": ["gpt-realtime"]}
    assert request.headers["content-type"] == "application/sdp"
    assert request.headers["authorization"] == f"Bearer {secret}"
    assert request.body == offer
    assert answer.sdp == ANSWER_SDP
    assert answer.status == 201


async def test_create_call_with_server_key_sends_multipart_sdp_and_session(fake_openai):
    answer = await upstream.create_call(OFFER, SERVER_KEY, session_config())

    parts = fake_openai.received[-1].multipart()
    assert parts["sdp"] == ("application/sdp", OFFER)
    content_type, session = parts["session"]
    assert content_type == "application/json"
    assert json.loads(session) == session_config()
    assert answer.sdp.startswith(b"v=0")


async def test_create_call_takes_the_call_id_from_location(fake_openai):
    answer = await upstream.create_call(OFFER, fake_openai.mint())

    assert answer.location.startswith("/v1/realtime/calls/rtc_")
    assert answer.call_id == answer.location.rsplit("/", 1)[1]


async def test_create_call_without_location_has_an_empty_call_id(fake_openai):
    fake_openai.script(Reply(201, ANSWER_SDP, {"Content-Type": "application/sdp"}))

    answer = await upstream.create_call(OFFER, fake_openai.mint())

    assert answer.call_id == ""


async def test_http_error_carries_status_and_parsed_body(fake_openai):
    fake_openai.script(
        Reply(
            400,
            openai_error(
                "Unknown parameter: 'model'.", "invalid_request_error", "unknown_parameter", "model"
            ),
        )
    )

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert raised.value.status == 400
    assert raised.value.code == "unknown_parameter"
    assert raised.value.message == "Unknown parameter: 'model'."
    assert raised.value.error["param"] == "model"


async def test_http_error_with_a_body_that_is_not_json_keeps_the_text(fake_openai):
    fake_openai.script(Reply(502, "<html>Bad gateway</html>"))

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert raised.value.error is None
    assert raised.value.body == "<html>Bad gateway</html>"
    assert raised.value.code == ""


async def test_rate_limit_error_keeps_retry_after(fake_openai):
    fake_openai.script(
        Reply(
            429,
            openai_error("Rate limit reached", "rate_limit_error", "rate_limit_exceeded"),
            {"Retry-After": "7"},
        )
    )

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.create_call(OFFER, fake_openai.mint())

    assert raised.value.retry_after == "7"


async def test_expired_secret_is_an_http_401(fake_openai):
    secret = fake_openai.mint(ttl=-1)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.create_call(OFFER, secret)

    assert raised.value.status == 401
    assert raised.value.code == "invalid_api_key"


async def test_a_closed_port_is_unreachable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"

    with pytest.raises(upstream.UpstreamUnreachable):
        await upstream.mint_client_secret(session_config(), 600)


async def test_an_answer_slower_than_the_read_timeout_is_a_timeout(fake_openai, settings):
    settings.REALTIME_READ_TIMEOUT = 0.2
    fake_openai.script(Reply(hang=True))

    with pytest.raises(upstream.UpstreamTimeout):
        await upstream.create_call(OFFER, fake_openai.mint())


async def test_a_success_answer_that_is_not_sdp_is_an_invalid_answer(fake_openai):
    fake_openai.script(Reply(201, {"error": {"message": "", "type": "", "code": ""}}))

    with pytest.raises(upstream.UpstreamInvalidAnswer) as raised:
        await upstream.create_call(OFFER, fake_openai.mint())

    assert raised.value.status == 201
    assert "application/json" in str(raised.value)


async def test_a_mint_answer_without_a_secret_is_an_invalid_answer(fake_openai):
    fake_openai.script(Reply(200, {"session": {}}))

    with pytest.raises(upstream.UpstreamInvalidAnswer):
        await upstream.mint_client_secret(session_config(), 600)


async def test_a_mint_answer_whose_value_is_not_an_ek_secret_is_an_invalid_answer(fake_openai):
    fake_openai.script(Reply(200, {"value": "sk-leaked", "expires_at": 1, "session": {}}))

    with pytest.raises(upstream.UpstreamInvalidAnswer) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert "sk-leaked" not in str(raised.value)
    assert raised.value.body == ""
