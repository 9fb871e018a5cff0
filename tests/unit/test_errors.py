"""realtime.errors and realtime.answers: the one table of problems, and the HTTP answers
built from it."""

import json

import pytest

from realtime import answers, errors, hints, upstream
from realtime.models import Outcome


def test_every_problem_has_a_message_a_hint_and_an_error_status():
    for found in errors.HTTP_PROBLEMS.values():
        assert found.message
        assert found.hint
        assert 400 <= found.status < 600


def test_error_response_is_json_with_code_message_and_hint():
    response = answers.error_response("invalid_sdp")

    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": {
            "code": "invalid_sdp",
            "message": errors.PROBLEMS["invalid_sdp"].message,
            "hint": errors.PROBLEMS["invalid_sdp"].hint,
        }
    }


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": "beta_api_shape_disabled", "message": "x"}, "client_secrets"),
        ({"code": "api_version_mismatch", "message": "x"}, "GA API"),
        ({"code": "unknown_parameter", "param": "model", "message": "x"}, "inside 'session'"),
        ({"code": "unknown_parameter", "param": "session.bogus", "message": "x"}, "wrong place"),
        ({"code": "unsupported_content_type", "message": "x"}, "Expect line: v="),
        ({"code": "invalid_api_key", "message": "x"}, "OPENAI_API_KEY"),
        ({"code": "rate_limit_exceeded", "message": "x"}, "Retry-After"),
        ({"message": "", "type": "", "code": "", "param": ""}, "GA API"),
        ({"code": None, "message": "Unknown parameter: 'voice'."}, "wrong place"),
        ({"code": "something_new", "message": "x"}, "its message says why"),
    ],
)
def test_upstream_hints_follow_the_code_then_the_message(error, expected):
    assert expected in hints.upstream_hint(error)


def test_an_invalid_key_with_an_ephemeral_secret_hints_at_minting_again():
    hint = hints.upstream_hint({"code": "invalid_api_key", "message": "x"}, ephemeral=True)

    assert "mint a fresh one" in hint


def test_browser_hints_cover_the_common_browser_side_symptoms():
    assert set(hints.BROWSER_HINTS) >= {
        "relative_relay_url",
        "sdp_parse_failed",
        "connected_but_silent",
        "mic_blocked",
    }


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (upstream.UpstreamTimeout("slow"), 504, "upstream_timeout"),
        (upstream.UpstreamUnreachable("down"), 502, "upstream_unreachable"),
        (upstream.UpstreamAnswerLost("cut short"), 502, "upstream_answer_lost"),
        (
            upstream.UpstreamInvalidAnswer(200, "<html>", "text/html"),
            502,
            "upstream_invalid_answer",
        ),
    ],
)
def test_upstream_failures_map_to_our_status_and_code(failure, status, code):
    answer = answers.answer_upstream_failure(failure, ephemeral=False)

    assert (answer.status, answer.code, answer.body["error"]["code"]) == (status, code, code)
    assert answer.response()["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("failure", "code", "outcome"),
    [
        (upstream.UpstreamHTTPError(400, '{"error": {"code": "x"}}', {}), "x", "upstream_error"),
        (upstream.UpstreamHTTPError(404, "", {}), "upstream_404", "upstream_error"),
        (upstream.UpstreamHTTPError(500, "", {}), "upstream_server_error", "upstream_error"),
        (upstream.UpstreamTimeout("slow"), "upstream_timeout", "timeout"),
        (upstream.UpstreamUnreachable("down"), "upstream_unreachable", "unreachable"),
        # Reached, then lost: recorded as unreachable, told apart by its code.
        (upstream.UpstreamAnswerLost("cut short"), "upstream_answer_lost", "unreachable"),
        (upstream.UpstreamInvalidAnswer(200, "", "x"), "upstream_invalid_answer", "invalid_answer"),
    ],
)
def test_each_upstream_failure_carries_its_code_and_the_outcome_it_records(failure, code, outcome):
    assert (failure.error_code, failure.outcome) == (code, outcome)
    assert failure.outcome in Outcome.values


def test_an_error_message_that_quotes_a_key_masks_it():
    body = answers.error_body("invalid_transport", "Unknown transport 'ek_abcdefgh12345678'.")

    assert "abcdefgh" not in body["error"]["message"]
    assert "ek_…redacted" in body["error"]["message"]


def test_every_close_code_is_one_an_asgi_server_may_send():
    for found in errors.PROBLEMS.values():
        assert found.close_code is None or 3000 <= found.close_code <= 4999
