"""The emulator's REST endpoints answer as the GA service does, errors included."""

import json
import re
import time

import httpx
import pytest
from openai import OpenAI

from realtime.emulator.testing import EmulatorProcess

KEY = "sk-test-emulator-key"


@pytest.fixture
def api(emulator) -> httpx.Client:
    with httpx.Client(base_url=emulator.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def sdk(emulator) -> OpenAI:
    return OpenAI(api_key=KEY, base_url=emulator.base_url, max_retries=0)


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def mint(api: httpx.Client, body: dict | None = None) -> dict:
    response = api.post("/realtime/client_secrets", json=body or {}, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response) -> dict:
    return response.json()["error"]


# --- client secrets ------------------------------------------------------------------------


def test_the_sdk_mints_a_client_secret_and_parses_the_answer(sdk):
    answer = sdk.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 120},
        session={"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."},
    )

    assert re.fullmatch(r"ek_[0-9a-f]{32}", answer.value)
    assert abs(answer.expires_at - (time.time() + 120)) < 5
    assert answer.session.type == "realtime"
    assert answer.session.instructions == "Be brief."


def test_a_minted_session_is_filled_with_the_services_defaults(api):
    session = mint(api)["session"]

    assert session["object"] == "realtime.session"
    assert re.fullmatch(r"sess_[A-Za-z0-9]{21}", session["id"])
    assert session["audio"]["output"]["voice"] == "alloy"
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
    assert session["expires_at"] == 0


def test_an_empty_body_mints_for_ten_minutes(api):
    answer = mint(api)

    assert abs(answer["expires_at"] - (time.time() + 600)) < 5


def test_the_current_models_are_minted(api):
    session = mint(
        api,
        {
            "session": {
                "type": "realtime",
                "model": "gpt-realtime-2.1",
                "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
            }
        },
    )["session"]

    assert session["model"] == "gpt-realtime-2.1"
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-transcribe"}


def test_minting_for_a_shut_down_model_succeeds_as_on_the_service(api):
    # The service mints for models it will not run; the refusal comes when the secret is
    # used (see the calls and WebSocket tests).
    session = mint(api, {"session": {"type": "realtime", "model": "gpt-4o-realtime-preview"}})

    assert session["session"]["model"] == "gpt-4o-realtime-preview"


def test_top_level_model_is_an_unknown_parameter(api):
    response = api.post("/realtime/client_secrets", json={"model": "gpt-realtime"}, headers=auth())

    assert response.status_code == 400
    assert error_of(response) == {
        "message": "Unknown parameter: 'model'.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "unknown_parameter",
    }


@pytest.mark.parametrize(
    ("seconds", "code"), [(5, "integer_below_min_value"), (7201, "integer_above_max_value")]
)
def test_expiry_outside_10_to_7200_seconds_is_refused(api, seconds, code):
    response = api.post(
        "/realtime/client_secrets",
        json={"expires_after": {"anchor": "created_at", "seconds": seconds}},
        headers=auth(),
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == code
    assert error_of(response)["param"] == "expires_after.seconds"


def test_minting_without_a_key_is_401(api):
    response = api.post("/realtime/client_secrets", json={})

    assert response.status_code == 401
    assert error_of(response)["message"].startswith("You didn't provide an API key.")


def test_minting_with_an_ephemeral_secret_is_401(api):
    secret = mint(api)["value"]

    response = api.post("/realtime/client_secrets", json={}, headers=auth(secret))

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


def test_an_emulator_with_one_api_key_refuses_any_other():
    with EmulatorProcess("--api-key", "sk-the-only-key") as strict:
        wrong = httpx.post(
            f"{strict.base_url}/realtime/client_secrets", json={}, headers=auth("sk-some-other-key")
        )
        right = httpx.post(
            f"{strict.base_url}/realtime/client_secrets", json={}, headers=auth("sk-the-only-key")
        )

    assert wrong.status_code == 401
    assert error_of(wrong)["message"].startswith("Incorrect API key provided: sk-som***")
    assert right.status_code == 200


# --- beta shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "content", "content_type"),
    [
        ("/realtime/client_secrets", {"OpenAI-Beta": "realtime=v1"}, "{}", "application/json"),
        ("/realtime/sessions", {}, '{"model": "gpt-realtime"}', "application/json"),
        ("/realtime?model=gpt-realtime", {}, "v=0\r\n", "application/sdp"),
    ],
)
def test_beta_shaped_requests_are_refused_with_beta_api_shape_disabled(
    api, path, headers, content, content_type
):
    response = api.post(
        path, content=content, headers={**auth(), **headers, "Content-Type": content_type}
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "beta_api_shape_disabled"
    assert "Beta API is no longer supported" in error_of(response)["message"]


# --- calls ---------------------------------------------------------------------------------


def test_an_offer_with_a_live_secret_gets_201_sdp_and_a_location(api, browser_offer, emulator):
    secret = mint(api)["value"]

    response = api.post(
        "/realtime/calls?model=gpt-realtime",
        content=browser_offer,
        headers={**auth(secret), "Content-Type": "application/sdp"},
    )

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/sdp"
    assert response.text.startswith("v=0")
    assert "m=audio" in response.text
    assert "webrtc-datachannel" in response.text
    call_id = response.headers["location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"/v1/realtime/calls/rtc_u1_[0-9a-f]{32}", response.headers["location"])
    assert call_id in emulator.state()["calls"]


def test_the_sdk_creates_a_call_with_multipart_and_the_server_key(sdk, browser_offer):
    response = sdk.realtime.calls.with_raw_response.create(
        sdp=browser_offer.decode(), session={"type": "realtime", "model": "gpt-realtime-2.1"}
    )

    assert response.status_code == 201
    assert response.headers["location"].startswith("/v1/realtime/calls/rtc_")
    assert response.text.startswith("v=0")


def test_the_offer_arrives_byte_for_byte_and_keys_are_masked(api, browser_offer, emulator):
    secret = mint(api)["value"]

    api.post(
        "/realtime/calls",
        content=browser_offer,
        headers={**auth(secret), "Content-Type": "application/sdp"},
    )

    [request] = emulator.requests("/v1/realtime/calls")
    assert request["body"].encode() == browser_offer
    assert secret not in json.dumps(request)
    assert request["headers"]["authorization"] == f"Bearer ek_{secret[3:6]}***{secret[-4:]}"


def test_json_where_sdp_belongs_is_unsupported_content_type(api):
    secret = mint(api)["value"]

    response = api.post("/realtime/calls", json={"sdp": "v=0"}, headers=auth(secret))

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "unsupported_content_type"
    assert "'application/json'" in error["message"]
    assert "'application/sdp' or 'multipart/form-data'" in error["message"]


def test_an_expired_secret_is_401(api, browser_offer, emulator):
    secret = mint(api)["value"]
    emulator.expire_secret(secret)

    response = api.post(
        "/realtime/calls",
        content=browser_offer,
        headers={**auth(secret), "Content-Type": "application/sdp"},
    )

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"
    assert error_of(response)["message"].startswith("Incorrect API key provided: ek_")


def test_an_unknown_secret_is_401(api, browser_offer):
    response = api.post(
        "/realtime/calls",
        content=browser_offer,
        headers={**auth("ek_" + "0" * 32), "Content-Type": "application/sdp"},
    )

    assert response.status_code == 401


def test_a_multipart_session_of_type_transcription_is_refused(api, browser_offer):
    response = api.post(
        "/realtime/calls",
        headers=auth(),
        files={
            "sdp": (None, browser_offer, "application/sdp"),
            "session": (None, json.dumps({"type": "transcription"}), "application/json"),
        },
    )

    assert response.status_code == 400
    assert error_of(response)["param"] == "session.type"


SHUT_DOWN_MODEL = {
    "error": {
        "message": 'Model "gpt-4o-realtime-preview" is not supported in realtime mode.',
        "type": "invalid_request_error",
        "param": "session.model",
        "code": "invalid_model",
    }
}


def test_a_call_for_a_shut_down_model_is_refused(api, browser_offer, emulator):
    session = {"type": "realtime", "model": "gpt-4o-realtime-preview"}  # shut down 2026-05-07

    response = api.post(
        "/realtime/calls",
        headers=auth(),
        files={
            "sdp": (None, browser_offer, "application/sdp"),
            "session": (None, json.dumps(session), "application/json"),
        },
    )

    assert response.status_code == 400
    assert response.json() == SHUT_DOWN_MODEL
    assert emulator.state()["calls"] == []


def test_an_offer_with_a_secret_for_a_shut_down_model_is_refused(api, browser_offer):
    secret = mint(api, {"session": {"type": "realtime", "model": "gpt-4o-realtime-preview"}})

    response = api.post(
        "/realtime/calls",
        content=browser_offer,
        headers={**auth(secret["value"]), "Content-Type": "application/sdp"},
    )

    assert response.status_code == 400
    assert response.json() == SHUT_DOWN_MODEL


def test_the_sdk_creates_a_call_for_a_current_model(sdk, browser_offer):
    response = sdk.realtime.calls.with_raw_response.create(
        sdp=browser_offer.decode(), session={"type": "realtime", "model": "gpt-realtime-2.1-mini"}
    )

    assert response.status_code == 201


def test_hangup_ends_the_call(api, browser_offer, emulator):
    created = api.post(
        "/realtime/calls", headers=auth(), files={"sdp": (None, browser_offer, "application/sdp")}
    )
    call_id = created.headers["location"].rsplit("/", 1)[1]

    response = api.post(f"/realtime/calls/{call_id}/hangup", headers=auth())

    assert response.status_code == 200
    assert response.content == b""
    assert call_id not in emulator.state()["calls"]


def test_hangup_of_an_unknown_call_is_404(api):
    response = api.post("/realtime/calls/rtc_u1_nosuchcall/hangup", headers=auth())

    assert response.status_code == 404


# --- faults --------------------------------------------------------------------------------


def test_an_injected_status_answers_the_next_requests_then_stops(api, emulator):
    emulator.fault("client_secrets", status=500, count=2)

    statuses = [
        api.post("/realtime/client_secrets", json={}, headers=auth()).status_code for _ in range(3)
    ]

    assert statuses == [500, 500, 200]


def test_an_injected_429_carries_retry_after(api, emulator):
    emulator.fault("client_secrets", status=429, retry_after=7)

    response = api.post("/realtime/client_secrets", json={}, headers=auth())

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert error_of(response)["type"] == "rate_limit_error"


def test_an_injected_delay_slows_the_answer(api, emulator):
    emulator.fault("client_secrets", delay_ms=300)

    started = time.monotonic()
    response = api.post("/realtime/client_secrets", json={}, headers=auth())

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_an_injected_hang_outlasts_the_clients_timeout(api, emulator):
    emulator.fault("calls", hang=True)

    with pytest.raises(httpx.ReadTimeout):
        api.post(
            "/realtime/calls",
            content="v=0",
            timeout=0.5,
            headers={**auth(), "Content-Type": "application/sdp"},
        )


def test_an_injected_truncation_breaks_the_answer_off_halfway(api, emulator):
    emulator.fault("client_secrets", truncate=True)

    with pytest.raises(httpx.RemoteProtocolError, match="without sending complete message body"):
        mint(api)
    assert mint(api)["value"].startswith("ek_")  # one request only: the next is whole


def test_an_injected_answer_that_is_not_sdp(api, browser_offer, emulator):
    emulator.fault("calls", status=201, body="<html>oops</html>", content_type="text/html")
    secret = mint(api)["value"]

    response = api.post(
        "/realtime/calls",
        content=browser_offer,
        headers={**auth(secret), "Content-Type": "application/sdp"},
    )

    assert response.status_code == 201
    assert response.text == "<html>oops</html>"


def test_a_fault_for_an_unknown_endpoint_is_refused(emulator):
    with pytest.raises(httpx.HTTPStatusError):
        emulator.fault("nowhere", status=500)
