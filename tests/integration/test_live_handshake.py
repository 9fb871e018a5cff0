"""POST /api/live/handshake and /api/live/hangup: the page's GPT-Live calls over WebRTC,
relayed with the server key, refused as the Realtime relay refuses, and recorded."""

import pytest

from realtime.models import RealtimeSession, UpstreamExchange
from tests.support.live_relay import HANDSHAKE, hang_up, post_offer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]


@pytest.fixture(autouse=True)
def no_sideband(settings):
    """These tests are about the HTTP exchanges; tests/integration/test_live_sideband.py
    has the sideband."""
    settings.REALTIME_SIDEBAND = False


async def start_session(browser, csrf_token, offer) -> str:
    answer = await post_offer(browser, csrf_token, offer)
    assert answer.status_code == 201, answer.content
    return answer["X-Live-Session-Id"]


async def refused_row() -> UpstreamExchange:
    row = await UpstreamExchange.objects.aget()
    assert (row.api, row.outcome) == ("live", "rejected")
    return row


async def test_the_page_gets_the_sdp_answer_and_the_live_session_id(
    browser, csrf_token, browser_offer, emulator
):
    answer = await post_offer(browser, csrf_token, browser_offer)

    assert answer.status_code == 201
    assert answer["Content-Type"] == "application/sdp"
    assert answer["Cache-Control"] == "no-store"
    assert answer.content.startswith(b"v=0")
    session_id = answer["X-Live-Session-Id"]
    upstream = emulator.state()["live_sessions"][session_id]
    assert (upstream["transport"], upstream["model"]) == ("webrtc", "gpt-live-1.1")
    [create] = emulator.requests("/v1/live/sessions")
    assert create["body"]["transport"]["sdp"] == browser_offer.decode()
    assert create["body"]["session"]["instructions"]  # the server's session, not the page's


async def test_the_exchange_and_the_session_row_are_recorded_as_live(
    browser, csrf_token, browser_offer
):
    session_id = await start_session(browser, csrf_token, browser_offer)

    row = await UpstreamExchange.objects.select_related("session").aget()
    assert (row.kind, row.transport, row.api, row.outcome) == ("call", "webrtc", "live", "ok")
    assert (row.call_id, row.upstream_status, row.model) == (session_id, 201, "gpt-live-1.1")
    session = row.session
    assert (session.api, session.model, session.transport) == ("live", "gpt-live-1.1", "webrtc")
    assert (session.call_id, session.ended_at) == (session_id, None)


async def test_an_unknown_agent_is_refused(browser, csrf_token, browser_offer):
    answer = await browser.post(
        f"{HANDSHAKE}?agent=nobody",
        data=browser_offer,
        content_type="application/sdp",
        headers={"X-CSRFToken": csrf_token},
    )

    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_agent")
    await refused_row()


async def test_without_csrf_the_offer_is_refused(browser, csrf_token, browser_offer, emulator):
    answer = await browser.post(HANDSHAKE, data=browser_offer, content_type="application/sdp")

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "csrf_failed")
    assert (await refused_row()).error_code == "csrf_failed"
    assert emulator.requests("/v1/live/sessions") == []


async def test_with_live_off_the_offer_is_refused(
    browser, csrf_token, browser_offer, emulator, settings
):
    settings.REALTIME_LIVE = False

    answer = await post_offer(browser, csrf_token, browser_offer)

    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "live_not_offered")
    assert (await refused_row()).error_code == "live_not_offered"
    assert emulator.requests("/v1/live/sessions") == []


async def test_an_offer_that_is_not_sdp_is_refused(browser, csrf_token):
    answer = await browser.post(
        HANDSHAKE,
        data={"sdp": "v=0"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )

    assert (answer.status_code, answer.json()["error"]["code"]) == (415, "unsupported_media_type")
    await refused_row()


async def test_a_body_that_is_no_offer_is_refused(browser, csrf_token):
    answer = await post_offer(browser, csrf_token, b"hello")

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_sdp")
    await refused_row()


async def test_without_a_server_key_the_offer_is_refused(
    browser, csrf_token, browser_offer, settings
):
    settings.OPENAI_API_KEY = ""

    answer = await post_offer(browser, csrf_token, browser_offer)

    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "server_not_configured")


@pytest.mark.parametrize(
    ("status", "answered", "code"),
    [(503, 502, "upstream_server_error"), (429, 429, "rate_limit_exceeded")],
)
async def test_an_upstream_failure_is_answered_and_recorded_like_realtimes(
    browser, csrf_token, browser_offer, emulator, status, answered, code
):
    emulator.fault("live_sessions", status=status)

    answer = await post_offer(browser, csrf_token, browser_offer)

    assert (answer.status_code, answer.json()["error"]["code"]) == (answered, code)
    assert answer.json()["error"]["hint"]
    row = await UpstreamExchange.objects.select_related("session").aget()
    assert (row.api, row.error_code, row.upstream_status) == ("live", code, status)
    # It reached OpenAI: its session row is over as it starts.
    assert (row.session.api, row.session.end_reason) == ("live", code)


# --- hangup ---------------------------------------------------------------------------------


async def test_hangup_ends_the_session_upstream_and_its_row(
    browser, csrf_token, browser_offer, emulator
):
    session_id = await start_session(browser, csrf_token, browser_offer)

    response = await hang_up(browser, csrf_token, {"session_id": session_id})

    assert response.status_code == 204
    assert session_id not in emulator.state()["live_sessions"]
    session = await RealtimeSession.objects.aget(call_id=session_id)
    assert (session.end_reason, session.ended_at is not None) == ("hangup", True)
    row = await UpstreamExchange.objects.aget(kind="hangup")
    assert (row.api, row.upstream_status, row.session_id) == ("live", 200, session.pk)


async def test_hanging_up_a_session_already_over_still_ends_its_row(
    browser, csrf_token, browser_offer, emulator
):
    session_id = await start_session(browser, csrf_token, browser_offer)
    emulator.reset()  # over at OpenAI's end

    response = await hang_up(browser, csrf_token, {"session_id": session_id})

    assert response.status_code == 204
    assert (await RealtimeSession.objects.aget(call_id=session_id)).end_reason == "hangup"
    assert (await UpstreamExchange.objects.aget(kind="hangup")).upstream_status == 404


async def test_a_hangup_openai_fails_is_answered_and_the_row_stays_open(
    browser, csrf_token, browser_offer, emulator
):
    session_id = await start_session(browser, csrf_token, browser_offer)
    emulator.fault("live_hangup", status=500)

    response = await hang_up(browser, csrf_token, {"session_id": session_id})

    assert (response.status_code, response.json()["error"]["code"]) == (
        502,
        "upstream_server_error",
    )
    assert (await RealtimeSession.objects.aget(call_id=session_id)).ended_at is None


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        {},
        {"session_id": 7},
        {"session_id": "rtc_abc"},
        {"session_id": "live_../../admin"},
        {"session_id": "live_" + "a" * 96},  # longer than a row's call id holds
    ],
)
async def test_hangup_refuses_anything_but_a_live_session_id(browser, csrf_token, body):
    response = await hang_up(browser, csrf_token, body)

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_session_id")
    assert (await refused_row()).kind == "hangup"


async def test_hangup_without_csrf_is_refused(browser, csrf_token):
    response = await browser.post(
        "/api/live/hangup", data={"session_id": "live_abc"}, content_type="application/json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (403, "csrf_failed")
