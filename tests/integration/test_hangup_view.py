"""POST /api/realtime/hangup: the page's Stop ends its WebRTC call and closes its session."""

import pytest

from realtime.models import RealtimeSession, UpstreamExchange

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]
URL = "/api/realtime/hangup"


async def start_call(browser, csrf_token, offer) -> str:
    answer = await browser.post(
        "/api/realtime/handshake",
        data=offer,
        content_type="application/sdp",
        headers={"X-CSRFToken": csrf_token},
    )
    assert answer.status_code == 201
    return answer["X-Realtime-Call-Id"]


async def hang_up(browser, csrf_token, body):
    return await browser.post(
        URL, data=body, content_type="application/json", headers={"X-CSRFToken": csrf_token}
    )


async def test_hangup_ends_the_call_upstream_and_closes_its_session(
    browser, csrf_token, browser_offer, emulator
):
    call_id = await start_call(browser, csrf_token, browser_offer)
    assert call_id in emulator.state()["calls"]

    response = await hang_up(browser, csrf_token, {"call_id": call_id})

    assert response.status_code == 204
    assert call_id not in emulator.state()["calls"]
    session = await RealtimeSession.objects.aget(call_id=call_id)
    assert session.ended_at is not None
    row = await UpstreamExchange.objects.aget(kind="hangup")
    assert (row.outcome, row.upstream_status, row.session_id) == ("ok", 200, session.pk)


async def test_hanging_up_a_call_that_already_ended_still_closes_the_session(
    browser, csrf_token, browser_offer, emulator, settings
):
    # The view's own end of the row: a sideband would end it too as the call ends, and on
    # the tests' in-memory SQLite its write and the view's read can collide ("table is
    # locked"; a file database waits instead). tests/integration/test_sideband.py has it.
    settings.REALTIME_SIDEBAND = False
    call_id = await start_call(browser, csrf_token, browser_offer)
    emulator.reset()  # the call is over at OpenAI's end

    response = await hang_up(browser, csrf_token, {"call_id": call_id})

    assert response.status_code == 204
    assert (await RealtimeSession.objects.aget(call_id=call_id)).ended_at is not None
    assert (await UpstreamExchange.objects.aget(kind="hangup")).upstream_status == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"call_id": 7},
        {"call_id": "../../admin"},
        "not json",
        # Only a call id's own characters: none a URL path or a database column would mangle.
        {"call_id": "rtc_\u0000"},
        {"call_id": "rtc_caf\u00e9"},
        {"call_id": "rtc_" + "a" * 200},
        '{"call_id": "rtc_\\ud800"}',  # a lone surrogate, which no text column can store
        "[" * 5000 + "]" * 5000,  # nested past any parser's patience
    ],
)
async def test_hangup_refuses_anything_but_a_call_id(browser, csrf_token, body):
    response = await hang_up(browser, csrf_token, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_call_id"
    row = await UpstreamExchange.objects.aget()
    assert (row.kind, row.outcome) == ("hangup", "rejected")


async def test_hangup_needs_csrf(browser):
    response = await browser.post(URL, data={"call_id": "rtc_x"}, content_type="application/json")

    assert response.status_code == 403
