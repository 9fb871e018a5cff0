"""realtime.upstream_live against the emulator's GPT-Live endpoints, faults included."""

import asyncio
import json
import re

import pytest

from realtime import upstream, upstream_live
from realtime.emulator.state import mask
from tests.conftest import NO_UPSTREAM, SERVER_KEY

pytestmark = pytest.mark.usefixtures("openai_emulator")

SESSION = {
    "model": "gpt-live-1.1",
    "instructions": "Answer in one short sentence.",
    "audio": {"output": {"voice": "marin"}},
}
LIVE_ID = re.compile(r"live_[A-Za-z0-9_-]+")


@pytest.fixture
def offer(browser_offer: bytes) -> str:
    """A browser's WebRTC offer (aiortc on loopback, no ICE servers), as Live's JSON
    carries it."""
    return browser_offer.decode()


@pytest.fixture
async def created(offer: str) -> upstream_live.LiveSessionAnswer:
    """A Live WebRTC session created over REST."""
    return await upstream_live.create_live_session(SESSION, offer)


async def next_event(socket: upstream.RelaySocket) -> dict:
    return json.loads(await socket.recv())


async def event_of_type(socket: upstream.RelaySocket, event_type: str) -> dict:
    """The first event of ``event_type`` the socket hears within ten seconds."""
    async with asyncio.timeout(10):
        while (event := await next_event(socket))["type"] != event_type:
            pass
    return event


def last_request(emulator, path: str) -> dict:
    return emulator.requests(path)[-1]


def upgrades(emulator) -> list[dict]:
    return [record for record in emulator.received() if record["kind"] == "websocket"]


# --- create ---------------------------------------------------------------------------------


async def test_create_returns_a_live_session_id_and_an_sdp_answer(emulator, offer):
    answer = await upstream_live.create_live_session(SESSION, offer)

    assert LIVE_ID.fullmatch(answer.session_id)
    assert answer.sdp.startswith("v=0")
    assert answer.status == 201
    assert answer.response_bytes > len(answer.sdp)
    listed = emulator.state()["live_sessions"][answer.session_id]
    assert (listed["transport"], listed["model"]) == ("webrtc", "gpt-live-1.1")


async def test_create_posts_the_session_and_the_offer_unchanged_as_json(emulator, offer):
    await upstream_live.create_live_session(SESSION, offer)

    request = last_request(emulator, "/v1/live/sessions")
    assert request["headers"]["content-type"] == "application/json"
    assert request["body"] == {"session": SESSION, "transport": {"type": "webrtc", "sdp": offer}}


async def test_create_carries_the_server_key_and_no_beta_header_or_query(emulator, offer):
    await upstream_live.create_live_session(SESSION, offer)

    request = last_request(emulator, "/v1/live/sessions")
    assert request["headers"]["authorization"] == f"Bearer {mask(SERVER_KEY)}"
    assert "openai-beta" not in request["headers"]
    assert request["query"] == {}


async def test_the_services_refusal_of_a_session_field_keeps_its_code_and_param(offer):
    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.create_live_session({**SESSION, "turn_detection": None}, offer)

    assert (raised.value.status, raised.value.code) == (400, "unknown_parameter")
    assert raised.value.error["param"] == "session.turn_detection"


@pytest.mark.parametrize(
    ("status", "error_code", "refused"),
    [
        (401, "invalid_api_key", True),
        (400, "upstream_400", True),
        (429, "rate_limit_exceeded", True),
        (500, "upstream_server_error", False),
    ],
)
async def test_an_error_status_on_create_is_an_http_error_with_its_code(
    emulator, offer, status, error_code, refused
):
    emulator.fault("live_sessions", status=status)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.create_live_session(SESSION, offer)

    assert (raised.value.status, raised.value.error_code) == (status, error_code)
    assert (raised.value.outcome, raised.value.refused) == ("upstream_error", refused)
    assert json.loads(raised.value.body)["error"]  # kept for the exchange's record


async def test_a_rate_limited_create_keeps_retry_after(emulator, offer):
    emulator.fault("live_sessions", status=429, retry_after=7)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.create_live_session(SESSION, offer)

    assert raised.value.retry_after == "7"


@pytest.mark.parametrize("fault", [{"delay_ms": 2000}, {"hang": True}], ids=["slow", "hang"])
async def test_a_create_with_no_answer_in_time_is_a_timeout(emulator, settings, offer, fault):
    settings.REALTIME_READ_TIMEOUT = 0.3
    emulator.fault("live_sessions", **fault)

    with pytest.raises(upstream.UpstreamTimeout) as raised:
        await upstream_live.create_live_session(SESSION, offer)

    assert (raised.value.error_code, raised.value.outcome) == ("upstream_timeout", "timeout")


async def test_a_create_answer_cut_short_is_lost_not_unreachable(emulator, offer):
    emulator.fault("live_sessions", truncate=True)

    with pytest.raises(upstream.UpstreamAnswerLost) as raised:
        await upstream_live.create_live_session(SESSION, offer)

    assert raised.value.error_code == "upstream_answer_lost"


@pytest.mark.parametrize(
    "fault",
    [
        {"body": "<html>Created</html>", "content_type": "text/html"},
        {"body": {"session": {"id": "rtc_abc"}, "transport": {"type": "webrtc", "sdp": "v=0"}}},
        {"body": {"session": {"id": "live_abc"}}},
        {"body": {"session": {"id": "live_abc"}, "transport": {"type": "webrtc", "sdp": ""}}},
    ],
    ids=["not-json", "not-a-live-id", "no-transport", "no-sdp"],
)
async def test_a_created_answer_that_is_not_a_live_session_is_an_invalid_answer(
    emulator, offer, fault
):
    emulator.fault("live_sessions", status=201, **fault)

    with pytest.raises(upstream.UpstreamInvalidAnswer) as raised:
        await upstream_live.create_live_session(SESSION, offer)

    assert (raised.value.status, raised.value.outcome) == (201, "invalid_answer")
    assert raised.value.body  # kept for the exchange's record


# --- hangup ---------------------------------------------------------------------------------


async def test_hangup_ends_the_live_session(emulator, created):
    status = await upstream_live.hang_up_live_session(created.session_id)

    assert status == 200
    assert created.session_id not in emulator.state()["live_sessions"]


async def test_hangup_posts_no_body_with_the_server_key_and_accepts_any_answer(emulator, created):
    await upstream_live.hang_up_live_session(created.session_id)

    request = last_request(emulator, f"/v1/live/sessions/{created.session_id}/hangup")
    assert request["headers"]["authorization"] == f"Bearer {mask(SERVER_KEY)}"
    assert request["headers"]["accept"] == "*/*"
    assert request["body"] is None


async def test_hangup_of_an_unknown_session_is_a_404_http_error():
    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.hang_up_live_session("live_unknown")

    assert (raised.value.status, raised.value.code) == (404, "session_not_found")
    assert raised.value.refused


async def test_a_hangup_that_fails_upstream_is_a_server_error(emulator, created):
    emulator.fault("live_hangup", status=500)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.hang_up_live_session(created.session_id)

    assert raised.value.error_code == "upstream_server_error"
    assert created.session_id in emulator.state()["live_sessions"]


# --- the primary WebSocket ------------------------------------------------------------------


async def test_the_live_socket_answers_session_start_with_session_started(emulator):
    socket = await upstream_live.open_live_socket()
    try:
        # Had anything been sent on open, this would not be the first frame: refused.
        await socket.send(
            json.dumps({"type": "session.start", "event_id": "c1", "session": SESSION})
        )
        started = await next_event(socket)
    finally:
        await socket.close()

    assert isinstance(socket, upstream.RelaySocket)
    assert (started["type"], started["client_event_id"]) == ("session.started", "c1")
    assert LIVE_ID.fullmatch(started["session"]["id"])
    assert started["session"]["model"] == "gpt-live-1.1"


async def test_the_live_socket_carries_the_server_key_and_no_query_or_subprotocol(emulator):
    socket = await upstream_live.open_live_socket()
    await socket.close()

    upgrade = upgrades(emulator)[-1]
    assert (upgrade["path"], upgrade["query"], upgrade["subprotocols"]) == (
        "/v1/live/sessions",
        {},
        [],
    )
    assert upgrade["headers"]["authorization"] == f"Bearer {mask(SERVER_KEY)}"
    assert "openai-beta" not in upgrade["headers"]


async def test_a_live_socket_with_a_key_the_service_refuses_is_a_401(settings):
    settings.OPENAI_API_KEY = "not-a-server-key"

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.open_live_socket()

    assert (raised.value.status, raised.value.code) == (401, "invalid_api_key")


async def test_a_live_socket_that_never_opens_is_a_timeout(emulator, settings):
    settings.REALTIME_CONNECT_TIMEOUT = 0.3
    emulator.fault("live", never_open=True)

    with pytest.raises(upstream.UpstreamTimeout) as raised:
        await upstream_live.open_live_socket()

    assert (raised.value.error_code, raised.value.outcome) == ("upstream_timeout", "timeout")


async def test_a_refused_live_socket_upgrade_is_an_http_error_with_its_code(emulator):
    emulator.fault("live", status=429, retry_after=3)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.open_live_socket()

    assert (raised.value.status, raised.value.code) == (429, "rate_limit_exceeded")
    assert raised.value.retry_after == "3"


async def test_a_live_socket_to_a_closed_port_is_unreachable(settings):
    settings.OPENAI_BASE_URL = NO_UPSTREAM

    with pytest.raises(upstream.UpstreamUnreachable):
        await upstream_live.open_live_socket()


async def test_the_in_process_emulator_serves_the_live_socket(settings):
    settings.REALTIME_EMULATOR = True

    socket = await upstream_live.open_live_socket()
    try:
        await socket.send(json.dumps({"type": "session.start", "session": SESSION}))
        started = await next_event(socket)
    finally:
        await socket.close()

    assert started["type"] == "session.started"


# --- the sideband ---------------------------------------------------------------------------


async def test_a_sideband_attaches_to_a_created_session_and_hears_session_started(created):
    sideband = await upstream_live.attach_live_sideband(created.session_id)
    try:
        first = await next_event(sideband)
    finally:
        await sideband.close()

    assert first["type"] == "session.started"
    assert first["session"]["id"] == created.session_id


async def test_a_sideband_asks_for_a_graceful_close_with_the_server_key(emulator, created):
    sideband = await upstream_live.attach_live_sideband(created.session_id)
    await sideband.close()

    upgrade = upgrades(emulator)[-1]
    assert upgrade["path"] == f"/v1/live/sessions/{created.session_id}/attach"
    assert upgrade["query"] == {"graceful_close": "true"}
    assert upgrade["headers"]["authorization"] == f"Bearer {mask(SERVER_KEY)}"


async def test_a_sideband_hears_its_session_closed_when_the_session_is_hung_up(created):
    sideband = await upstream_live.attach_live_sideband(created.session_id)
    try:
        await event_of_type(sideband, "session.started")
        await upstream_live.hang_up_live_session(created.session_id)
        closed = await event_of_type(sideband, "session.closed")
    finally:
        await sideband.close()

    assert (closed["reason"], closed["session"]["id"]) == ("close_requested", created.session_id)


async def test_a_sideband_to_an_unknown_session_is_refused_as_one_to_an_unknown_call():
    with pytest.raises(upstream.UpstreamHTTPError) as live:
        await upstream_live.attach_live_sideband("live_unknown")
    with pytest.raises(upstream.UpstreamHTTPError) as realtime:
        await upstream.open_socket(call_id="rtc_unknown")

    # A 404 is what the sideband supervisor reads as "the call is over".
    assert (live.value.status, live.value.refused) == (404, True)
    assert (realtime.value.status, realtime.value.refused) == (404, True)
    assert live.value.code == "session_not_found"


async def test_a_refused_sideband_upgrade_is_a_server_error(emulator, created):
    emulator.fault("live_sideband", status=500)

    with pytest.raises(upstream.UpstreamHTTPError) as raised:
        await upstream_live.attach_live_sideband(created.session_id)

    assert raised.value.error_code == "upstream_server_error"
