"""GET /metrics under a real server: off without REALTIME_METRICS_TOKEN, refused without
it as bearer, and counting what the server did: exchanges, latency, live sessions by
transport, tool calls, sessions ended and their cost."""

from __future__ import annotations

import httpx
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from realtime import tokens
from tests.support.polling import eventually
from tests.support.realtime_client import connect
from tests.support.servers import SERVER_SECRET_KEY, Server

METRICS_TOKEN = "metrics-token-for-the-tests"


async def scrape(server: Server) -> dict[tuple[str, tuple], float]:
    async with httpx.AsyncClient(timeout=10) as scraper:
        answer = await scraper.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_are_off_until_a_token_is_set(daphne):
    off = httpx.get(f"{daphne.url}/metrics", timeout=10)

    assert off.status_code == 404
    assert off.json()["error"]["code"] == "metrics_off"


async def test_metrics_count_what_the_server_did_for_its_token_only(start_daphne):
    server = start_daphne(
        REALTIME_METRICS_TOKEN=METRICS_TOKEN,
        REALTIME_RATE_LIMIT="0",
        REALTIME_SERVER_TOOLS="tests.support.tools.lookup_order",
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as browser:
        refused = await browser.get("/metrics", headers={"Authorization": "Bearer not-it"})
        page = await browser.get("/")
        for _ in range(3):
            minted = await browser.post(
                "/api/realtime/client-secret",
                headers={"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{server.url}/"},
            )
            assert minted.status_code == 200
    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        token = tokens.issue(None, 60).value
    async with connect(f"{server.websocket_url}/v1/realtime", key=token) as client:
        await client.until("session.updated")
        during = await scrape(server)
        await client.ask("lookup_order 42")
        await client.until("response.done")
        await client.until("response.done")
    ended = (
        "realtime_sessions_ended_total",
        (("reason", "client_closed"), ("transport", "websocket")),
    )

    open_sockets = ("realtime_open_sessions", (("transport", "websocket"),))

    # The session's row (and its count) is written just after the client has gone, and it
    # stops counting as open last of all.
    async def once_ended() -> dict | None:
        found = await scrape(server)
        return found if found.get(ended) and found.get(open_sockets) == 0 else None

    after = await eventually(once_ended, 10, what="the session's end to be counted")

    assert refused.status_code == 401
    assert during[open_sockets] == 1
    assert after[("realtime_exchanges_total", (("kind", "client_secret"), ("outcome", "ok")))] == 3
    assert after[("realtime_relay_seconds_count", (("kind", "client_secret"),))] == 3
    assert after[("realtime_proxy_connect_seconds_count", ())] == 1
    assert (
        after[("realtime_tool_calls_total", (("outcome", "completed"), ("tool", "lookup_order")))]
        == 1
    )
    assert after[open_sockets] == 0
    assert after[ended] == 1
    assert after[("realtime_cost_usd_total", (("model", "gpt-realtime-2.1"),))] > 0
