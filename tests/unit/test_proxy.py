"""realtime.proxy: how the WebSocket proxy admits callers, counts usage, reads credentials
and ends sessions (its policy on client events: tests/unit/test_policy.py)."""

import pytest

from realtime import tokens, upstream
from realtime.conf import RealtimeSettings
from realtime.proxy import (
    ConnectionRefused,
    MessageRate,
    admit,
    broken_frame_ending,
    client_gone_error_code,
    ending,
    frame_too_large,
    origin_allowed,
    presented_credential,
    upstream_closed_ending,
    upstream_failure_ending,
)

CONF = RealtimeSettings(instructions="Be brief.")


def test_the_message_rate_allows_a_second_of_burst_then_refills():
    rate = MessageRate(10, now=0.0)

    assert all(rate.take(0.0) for _ in range(10))
    assert not rate.take(0.0)
    assert rate.take(0.1)
    assert not rate.take(0.1)


def test_a_credential_is_read_from_the_subprotocol_before_the_header():
    credential = presented_credential(
        {b"authorization": b"Bearer rtp_header"},
        ["realtime", "openai-insecure-api-key.rtp_subprotocol"],
    )

    assert (credential.value, credential.via_subprotocol) == ("rtp_subprotocol", True)


def test_a_bearer_header_is_a_credential_and_an_openai_key_is_recognised():
    credential = presented_credential({b"authorization": b"Bearer sk-proj-abc"}, [])

    assert credential.value == "sk-proj-abc"
    assert credential.is_openai_key
    assert presented_credential({b"authorization": b"Basic abc"}, []) is None
    assert presented_credential({}, ["realtime"]) is None


def test_origins_must_name_an_allowed_host(settings):
    settings.ALLOWED_HOSTS = ["voice.example.com"]

    assert origin_allowed("https://voice.example.com")
    assert not origin_allowed("https://evil.example.net")
    assert not origin_allowed("null")


async def refused_connection(scope: dict, conf: RealtimeSettings = CONF) -> ConnectionRefused:
    with pytest.raises(ConnectionRefused) as refused:
        await admit({"client": ["203.0.113.9", 5000], **scope}, conf, browser_path=False)
    return refused.value


async def test_an_openai_key_is_refused_and_never_fingerprinted():
    refused = await refused_connection({"headers": [(b"authorization", b"Bearer sk-proj-abc")]})

    assert (refused.code, refused.caller.secret_fingerprint) == ("openai_key_refused", "")


async def test_a_connection_without_a_token_on_the_sdk_path_is_refused():
    refused = await refused_connection({"headers": []})

    assert refused.code == "missing_credentials"


async def test_an_expired_token_is_refused_with_its_fingerprint_kept_for_the_record():
    token = tokens.issue(None, ttl=-1).value

    refused = await refused_connection(
        {"headers": [(b"authorization", f"Bearer {token}".encode())]}
    )

    assert refused.code == "proxy_token_expired"
    assert refused.caller.secret_fingerprint.startswith("rtp_")


async def test_a_valid_token_is_admitted_holding_an_open_session_slot():
    token = tokens.issue(None, ttl=60).value
    conf = RealtimeSettings(openai_api_key="sk-test")
    scope = {
        "client": ["203.0.113.9", 5000],
        "headers": [(b"authorization", b"Bearer " + token.encode())],
    }

    caller = await admit(scope, conf, browser_path=False)

    assert (caller.user_id, caller.slot) == (None, "ip:203.0.113.9")


def test_our_own_ending_closes_with_the_problems_code_and_reason_after_an_error_event():
    how = ending("frame_too_large", "The message is 20000 bytes.")

    assert (how.close_code, how.reason, how.error_code) == (
        4413,
        "invalid_request_error.frame_too_large",
        "frame_too_large",
    )
    assert how.event["error"]["message"] == "The message is 20000 bytes."
    assert ending("client_not_reading", tell_client=False).event is None


def test_a_close_from_openai_is_relayed_as_is():
    relayed = upstream_closed_ending(4000, "invalid_request_error.x")

    assert (relayed.close_code, relayed.reason, relayed.event) == (
        4000,
        "invalid_request_error.x",
        None,
    )


def test_a_broken_link_to_openai_is_told_to_the_client_with_4502():
    broken = upstream_closed_ending(None, "")

    assert (broken.close_code, broken.error_code) == (4502, "upstream_connection_lost")
    assert broken.event["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("failure", "close_code", "reason"),
    [
        (upstream.UpstreamHTTPError(401, "", {}), 3000, "invalid_request_error.upstream_401"),
        (upstream.UpstreamHTTPError(429, "", {}), 4429, "invalid_request_error.upstream_429"),
        (upstream.UpstreamHTTPError(503, "", {}), 4502, "server_error.upstream_server_error"),
        (upstream.UpstreamTimeout("slow"), 4504, "server_error.upstream_timeout"),
        (upstream.UpstreamUnreachable("down"), 4502, "server_error.upstream_unreachable"),
    ],
)
def test_an_upstream_handshake_failure_ends_the_session_like_openai_would(
    failure, close_code, reason
):
    how = upstream_failure_ending(failure)

    assert (how.close_code, how.reason) == (close_code, reason)
    assert how.event["type"] == "error"


def test_a_frame_over_the_limit_says_its_size_and_the_limit():
    measured = frame_too_large(4096, 5000)
    unmeasured = frame_too_large(4096)

    assert (measured.close_code, measured.error_code) == (4413, "frame_too_large")
    assert measured.event["error"]["message"] == (
        "The message is 5000 bytes; this server accepts at most 4096."
    )
    assert "at most 4096 bytes" in unmeasured.event["error"]["message"]


@pytest.mark.parametrize(
    ("code", "problem", "close_code"),
    [(1009, "frame_too_large", 4413), (1007, "invalid_frame", 4400), (1002, "invalid_frame", 4400)],
)
def test_a_frame_the_websocket_layer_refuses_ends_with_our_code(code, problem, close_code):
    how = broken_frame_ending(code, "encountered invalid UTF-8", limit=4096)

    assert (how.error_code, how.close_code) == (problem, close_code)
    assert how.reason == f"invalid_request_error.{problem}"
    assert how.event["error"]["code"] == problem


def test_the_end_of_a_session_the_server_stops_is_recorded_as_shutting_down():
    assert client_gone_error_code(1012, draining=False) == "server_shutting_down"
    assert client_gone_error_code(1000, draining=True) == "server_shutting_down"
    assert client_gone_error_code(1001, draining=False) == ""
    assert client_gone_error_code(1006, draining=False) == ""


def test_a_shutdown_and_a_failure_close_with_a_server_error():
    shutting_down = ending("server_shutting_down")
    failed = ending("internal_error")

    assert (shutting_down.close_code, shutting_down.reason) == (
        4503,
        "server_error.server_shutting_down",
    )
    assert (failed.close_code, failed.reason) == (4500, "server_error.internal_error")
    assert failed.event["error"]["message"] == (
        "The server failed while handling this request or session."
    )
