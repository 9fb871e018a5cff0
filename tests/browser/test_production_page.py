"""The page as production serves it: DEBUG off, the static files collected and served by
WhiteNoise under hashed names, under the Content-Security-Policy: a spoken turn over each
transport with no console error (a refused script, style or connection would be one)."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_page
from tests.support.servers import (
    PLAIN_HTTP_PRODUCTION,
    Server,
    collect_static,
    project_env,
    run_daphne,
)

TURN_SECONDS = 30_000  # ms: a spoken turn and its reply at four times real time


@pytest.fixture(scope="module")
def production(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("production")
    env = project_env(folder / "db.sqlite3", emulator.base_url)
    env = collect_static({**env, **PLAIN_HTTP_PRODUCTION}, folder / "collected")
    server = run_daphne(env, unused_tcp_port_factory(), REALTIME_RATE_LIMIT="0")
    yield server
    server.kill()


@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_the_production_page_holds_a_conversation_under_its_security_policy(
    launch, production, transport
):
    context = launch("turn")
    page = context.pages[0]
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    hashed: list[str] = []
    page.on("response", lambda response: "/static/" in response.url and hashed.append(response.url))

    open_page(context, production, transport)
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)
    expect(page.locator(".turn.assistant .text").first).to_contain_text(
        "seconds of", timeout=TURN_SECONDS
    )
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#status")).to_have_text("idle")

    assert errors == []
    assert any("/static/realtime/app." in url and url.endswith(".js") for url in hashed)
    assert not any(url.endswith("/static/realtime/app.js") for url in hashed)
