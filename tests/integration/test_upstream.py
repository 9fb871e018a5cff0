"""realtime.upstream against the emulator, faults included."""

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from django.views.debug import ExceptionReporter

from realtime import upstream
from realtime.conf import get_settings
from realtime.emulator.state import mask
from tests.conftest import SERVER_KEY

pytestmark = pytest.mark.usefixtures("openai_emulator")


def session_config() -> dict:
    return get_settings().session_config()


def last_request(emulator, path: str) -> dict:
    return emulator.requests(path)[-1]


async def test_mint_posts_the_ga_body_with_model_inside_session(emulator):
    secret = await upstream.mint_client_secret(session_config(), 120)

    body = last_request(emulator, "/v1/realtime/client_secrets")["body"]
    assert set(body) == {"expires_after", "session"}
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 120}
    assert body["session"]["type"] == "realtime"
    assert body["session"]["model"] == "gpt-realtime-2.1"
    assert body["session"]["audio"]["output"]["voice"] == "marin"
    assert body["session"]["instructions"]
    assert secret.value.startswith("ek_")
    assert secret.session["model"] == "gpt-realtime-2.1"


async def test_requests_carry_the_bearer_and_no_beta_header(emulator):
    await upstream.mint_client_secret(session_config(), 600)

    headers = last_request(emulator, "/v1/realtime/client_secrets")["headers"]
    assert headers["authorization"] == f"Bearer {mask(SERVER_KEY)}"
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


async def test_create_call_with_ek_secret_sends_the_raw_offer_unchanged(
    emulator, live_secret, browser_offer
):
    secret = live_secret()

    answer = await upstream.create_call(browser_offer, secret)

    request = last_request(emulator, "/v1/realtime/calls")
    assert request["query"] == {"model": "gpt-realtime-2.1"}
    assert request["headers"]["content-type"] == "application/sdp"
    assert request["headers"]["authorization"] == f"Bearer {mask(secret)}"
    assert request["body"].encode() == browser_offer
    assert answer.sdp.startswith(b"v=0")
    assert answer.status == 201


async def test_create_call_with_server_key_sends_multipart_sdp_and_session(emulator, browser_offer):
    answer = await upstream.create_call(browser_offer, SERVER_KEY, session_config())

    parts = last_request(emulator, "/v1/realtime/calls")["body"]["parts"]
    assert parts["sdp"].encode() == browser_offer
    assert json.loads(parts["session"]) == session_config()
    assert answer.sdp.startswith(b"v=0")


async def test_create_call_takes_the_call_id_from_location(live_secret, browser_offer):
    answer = await upstream.create_call(browser_offer, live_secret())

    assert answer.location.startswith("/v1/realtime/calls/rtc_")
    assert answer.call_id == answer.location.rsplit("/", 1)[1]


async def test_create_call_without_location_has_an_empty_call_id(
    emulator, live_secret, browser_offer
):
    emulator.fault("calls", status=201, body="v=0\r\ns=-\r\n", content_type="application/sdp")

    answer = await upstream.create_call(browser_offer, live_secret())

    assert answer.call_id == ""


async def test_http_error_carries_status_and_parsed_body(emulator):
    emulator.fault(
        "client_secrets",
        status=400,
        body={
            "error": {
                "message": "Unknown parameter: 'model'.",
                "type": "invalid_request_error",
                "param": "model",
                "code": "unknown_parameter",
            }
        },
    )

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert raised.value.status == 400
    assert raised.value.code == "unknown_parameter"
    assert raised.value.message == "Unknown parameter: 'model'."
    assert raised.value.error["param"] == "model"


async def test_the_real_services_refusal_of_bad_bounds_is_an_http_error():
    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.mint_client_secret(session_config(), 5)

    assert raised.value.code == "integer_below_min_value"


async def test_http_error_with_a_body_that_is_not_json_keeps_the_text(emulator):
    emulator.fault(
        "client_secrets", status=502, body="<html>Bad gateway</html>", content_type="text/html"
    )

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert raised.value.error is None
    assert raised.value.body == "<html>Bad gateway</html>"
    assert raised.value.code == ""


async def test_rate_limit_error_keeps_retry_after(emulator, live_secret, browser_offer):
    emulator.fault("calls", status=429, retry_after=7)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.create_call(browser_offer, live_secret())

    assert raised.value.retry_after == "7"
    assert raised.value.code == "rate_limit_exceeded"


async def test_expired_secret_is_an_http_401(emulator, live_secret, browser_offer):
    secret = live_secret()
    emulator.expire_secret(secret)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream.create_call(browser_offer, secret)

    assert raised.value.status == 401
    assert raised.value.code == "invalid_api_key"


async def test_a_closed_port_is_unreachable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"

    with pytest.raises(upstream.UpstreamUnreachable):
        await upstream.mint_client_secret(session_config(), 600)


async def test_an_answer_slower_than_the_read_timeout_is_a_timeout(
    emulator, settings, live_secret, browser_offer
):
    settings.REALTIME_READ_TIMEOUT = 0.3
    emulator.fault("calls", hang=True)

    with pytest.raises(upstream.UpstreamTimeout):
        await upstream.create_call(browser_offer, live_secret())


async def test_a_success_answer_that_is_not_sdp_is_an_invalid_answer(
    emulator, live_secret, browser_offer
):
    emulator.fault("calls", status=201, body={"error": {"message": "", "type": "", "code": ""}})

    with pytest.raises(upstream.UpstreamInvalidAnswer) as raised:
        await upstream.create_call(browser_offer, live_secret())

    assert raised.value.status == 201
    assert "application/json" in str(raised.value)


async def test_a_mint_answer_without_a_secret_is_an_invalid_answer(emulator):
    emulator.fault("client_secrets", status=200, body={"session": {}})

    with pytest.raises(upstream.UpstreamInvalidAnswer):
        await upstream.mint_client_secret(session_config(), 600)


async def test_a_mint_answer_whose_value_is_not_an_ek_secret_is_an_invalid_answer(emulator):
    emulator.fault(
        "client_secrets", status=200, body={"value": "sk-leaked", "expires_at": 1, "session": {}}
    )

    with pytest.raises(upstream.UpstreamInvalidAnswer) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert "sk-leaked" not in str(raised.value)
    assert raised.value.body == ""


# --- an answer lost after the request reached OpenAI --------------------------------------


@pytest.fixture
async def cut_short(settings) -> AsyncIterator[dict]:
    """An upstream on 127.0.0.1 that reads the request, then answers only as much as
    ``answer["sent"]`` holds (a status line and a Content-Length it does not keep, or
    nothing), and closes."""
    answer = {"sent": b""}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer["sent"])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    async with server:
        yield answer


async def test_an_answer_cut_short_is_lost_not_unreachable(cut_short):
    body = b'{"value": "ek_half", "expires_at": 1, "session": {}}'
    cut_short["sent"] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    cut_short["sent"] += b"Content-Length: %d\r\n\r\n%s" % (len(body), body[: len(body) // 2])

    with pytest.raises(upstream.UpstreamAnswerLost) as raised:
        await upstream.mint_client_secret(session_config(), 600)

    assert (raised.value.error_code, raised.value.outcome) == (
        "upstream_answer_lost",
        "unreachable",
    )


async def test_a_connection_closed_with_no_answer_at_all_is_lost(cut_short):
    with pytest.raises(upstream.UpstreamAnswerLost):
        await upstream.hang_up_call("rtc_abc")


# --- what an error report of a failed call shows ------------------------------------------


# Built, so that the report's source lines do not show it: only a frame's locals could.
CLIENT_SECRET = "ek_" + "secretvalue" * 2


@pytest.fixture
def failing_client(monkeypatch) -> None:
    """An HTTP client that fails inside httpx, as a bug would, once the request is built
    (its Authorization header set)."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug below the request")

    client = httpx.AsyncClient(transport=httpx.MockTransport(fail))
    monkeypatch.setattr(upstream, "get_client", lambda: client)


def reported() -> str:
    """The report of the exception being handled, as Django's error page (DEBUG on) or its
    emailed error report (DEBUG off) shows it: every frame with its locals."""
    return ExceptionReporter(None, *sys.exc_info()).get_traceback_html()


@pytest.mark.usefixtures("failing_client")
async def test_an_error_report_of_a_failed_call_shows_neither_its_secret_nor_the_key():
    try:
        await upstream.create_call(b"v=0\r\n", CLIENT_SECRET)
    except RuntimeError:
        text = reported()

    assert "a bug below the request" in text
    assert CLIENT_SECRET not in text
    assert SERVER_KEY not in text


@pytest.mark.usefixtures("failing_client")
async def test_even_a_debug_page_of_a_failed_unified_call_shows_no_server_key(settings):
    settings.DEBUG = True  # where Django shows every frame's locals, sensitive or not

    try:
        await upstream.create_call(b"v=0\r\n", None, session_config())
    except RuntimeError:
        page = reported()

    assert "a bug below the request" in page
    assert SERVER_KEY not in page
