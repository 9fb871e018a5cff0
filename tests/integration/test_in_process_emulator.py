"""`make run` without a key: daphne serves the offline emulator itself, and the page works."""

import httpx
import pytest

from tests.support.webrtc_client import WebRTCClient


@pytest.fixture
def keyless(start_daphne):
    """daphne in development (DEBUG on) with no OPENAI_API_KEY, as a newcomer runs it."""
    return start_daphne(OPENAI_API_KEY="", OPENAI_BASE_URL="")


def test_the_page_says_it_is_the_offline_emulator(keyless):
    page = httpx.get(f"{keyless.url}/", timeout=10)

    assert page.status_code == 200
    assert 'id="emulator-notice"' in page.text
    assert "OPENAI_API_KEY" in page.text
    assert "No OPENAI_API_KEY: serving the offline realtime emulator" in keyless.output


def test_a_server_with_a_key_has_no_emulator(daphne):
    page = httpx.get(f"{daphne.url}/", timeout=10)
    mounted = httpx.post(f"{daphne.url}/emulator/v1/realtime/client_secrets", json={})

    assert 'id="emulator-notice"' not in page.text
    assert mounted.status_code == 404


def test_a_production_server_without_a_key_answers_503_not_an_emulator(start_daphne):
    server = start_daphne(OPENAI_API_KEY="", DEBUG="false")
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = browser.get("/")
        minted = browser.post(
            "/api/realtime/client-secret", headers={"X-CSRFToken": page.cookies["csrftoken"]}
        )

    assert minted.status_code == 503
    assert minted.json()["error"]["code"] == "server_not_configured"


def test_mint_and_relay_go_to_the_in_process_emulator(keyless, browser_offer):
    with httpx.Client(base_url=keyless.url, timeout=15) as browser:
        page = browser.get("/")
        minted = browser.post(
            "/api/realtime/client-secret", headers={"X-CSRFToken": page.cookies["csrftoken"]}
        )
        answer = browser.post(
            "/api/realtime/handshake",
            content=browser_offer,
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {minted.json()['value']}",
            },
        )

    assert minted.status_code == 200, minted.text
    assert minted.json()["value"].startswith("ek_")
    assert answer.status_code == 201, answer.text
    assert answer.text.startswith("v=0")


async def test_a_webrtc_call_through_the_relay_reaches_the_in_process_emulator(keyless):
    client = WebRTCClient()
    try:
        async with httpx.AsyncClient(base_url=keyless.url, timeout=15) as browser:
            page = await browser.get("/")
            answer = await browser.post(
                "/api/realtime/handshake",
                content=await client.offer(),
                headers={
                    "Content-Type": "application/sdp",
                    "X-CSRFToken": page.cookies["csrftoken"],
                },
            )
        assert answer.status_code == 201, answer.text
        await client.accept(answer.text)
        first = await client.events.get()
    finally:
        await client.close()

    assert first["type"] == "session.created"
    assert first["session"]["model"] == "gpt-realtime"
