"""voiceproject without a key in development: the offline emulator stands in for OpenAI, and
the page works however the server was started, on whatever address, without being told
where it listens."""

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from realtime.conf import RealtimeSettings
from tests.support.realtime_client import connect
from tests.support.servers import Server, project_env, run_server
from tests.support.webrtc_client import WebRTCClient

# As a newcomer has it: no key, OpenAI's own base URL, and nothing that tells the app where
# it listens (no HOST, no PORT).
KEYLESS = {"OPENAI_API_KEY": "", "REALTIME_RATE_LIMIT": "0"}
OPENAI = "https://api.openai.com/v1"


@pytest.fixture(
    scope="module",
    params=[
        ("runserver", "127.0.0.1"),
        ("daphne", "127.0.0.1"),
        ("uvicorn", "127.0.0.1"),
        ("daphne", "::1"),
    ],
    ids=["runserver", "daphne", "uvicorn", "daphne-ipv6"],
)
def keyless(request, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Server]:
    kind, host = request.param
    env = project_env(tmp_path_factory.mktemp(kind) / "db.sqlite3", OPENAI)
    server = run_server(kind, env, unused_tcp_port_factory(), host, **KEYLESS)
    yield server
    server.kill()


@contextlib.asynccontextmanager
async def page_session(server: Server):
    """A browser that has loaded the page: its cookies, and the CSRF header to post with."""
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as browser:
        page = await browser.get("/")
        assert page.status_code == 200, page.text
        browser.headers["X-CSRFToken"] = page.cookies["csrftoken"]
        yield browser, page


async def call_through_the_relay(browser: httpx.AsyncClient, bearer: str | None) -> str:
    """Relay a WebRTC offer, connect, see the session open; hang up. Return the call id."""
    client = WebRTCClient()
    headers = {"Content-Type": "application/sdp"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        answer = await browser.post(
            "/api/realtime/handshake", content=await client.offer(), headers=headers
        )
        assert answer.status_code == 201, answer.text
        await client.accept(answer.text)
        first = await client.events.get()
        assert first["type"] == "session.created"
        assert first["session"]["model"] == RealtimeSettings.model
    finally:
        await client.close()
    call_id = answer.headers["X-Realtime-Call-Id"]
    hung_up = await browser.post("/api/realtime/hangup", json={"call_id": call_id})
    assert hung_up.status_code == 204, hung_up.text
    return call_id


async def test_the_page_flow_works_on_the_in_process_emulator(keyless):
    async with page_session(keyless) as (browser, page):
        assert 'id="emulator-notice"' in page.text
        minted = await browser.post("/api/realtime/client-secret")
        assert minted.status_code == 200, minted.text
        assert minted.json()["value"].startswith("ek_")

        ephemeral_call = await call_through_the_relay(browser, minted.json()["value"])
        unified_call = await call_through_the_relay(browser, None)

        async with connect(
            f"{keyless.websocket_url}/ws/realtime/",
            headers={"Origin": keyless.url},
        ) as proxied:
            await proxied.until("session.updated")
            await proxied.ask("hello")
            done = (await proxied.until("response.done"))[-1]

    assert done["response"]["status"] == "completed"
    assert ephemeral_call != unified_call
    assert "upstream_unreachable" not in keyless.output
    outcomes = keyless.rows("select kind, outcome from realtime_upstreamexchange")
    assert {(row["kind"], row["outcome"]) for row in outcomes} == {
        ("client_secret", "ok"),
        ("call", "ok"),
        ("hangup", "ok"),
        ("websocket", "ok"),
    }


def test_the_emulator_is_not_served_on_the_servers_own_port(keyless):
    mounted = httpx.post(f"{keyless.url}/emulator/v1/realtime/client_secrets", json={})

    assert mounted.status_code == 404
    assert "No OPENAI_API_KEY: the offline realtime emulator stands in" in keyless.output


def test_a_server_with_a_key_has_no_emulator(daphne):
    page = httpx.get(f"{daphne.url}/", timeout=10)

    assert 'id="emulator-notice"' not in page.text
    assert "offline realtime emulator" not in daphne.output


def test_a_production_server_without_a_key_answers_503_not_an_emulator(start_daphne):
    # Production settings, but plain http on loopback: no redirect, the CSRF cookie over http.
    server = start_daphne(
        OPENAI_API_KEY="", DEBUG="false", SECURE_SSL_REDIRECT="false", CSRF_COOKIE_SECURE="false"
    )
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = browser.get("/")
        minted = browser.post(
            "/api/realtime/client-secret", headers={"X-CSRFToken": page.cookies["csrftoken"]}
        )

    assert minted.status_code == 503
    assert minted.json()["error"]["code"] == "server_not_configured"


def test_the_in_process_emulator_stops_with_the_server(tmp_path, unused_tcp_port):
    server = run_server(
        "daphne", project_env(tmp_path / "db.sqlite3", OPENAI), unused_tcp_port, **KEYLESS
    )
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = browser.get("/")
        browser.post(
            "/api/realtime/client-secret", headers={"X-CSRFToken": page.cookies["csrftoken"]}
        )

    status = server.interrupt()

    assert status == 0, server.output
    assert "stopped the in-process realtime emulator" in server.output
