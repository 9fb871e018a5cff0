"""@openai/agents-realtime's WebRTC call, in a real browser, through our relay: recorded as
the page's calls are. The SDK is the package's own browser bundle, unchanged, served from
the relay's origin; its secret comes from `manage.py mint_secret`, as an operator's would."""

from pathlib import Path

import pytest
from playwright.sync_api import Route

from tests.browser.conftest import rows
from tests.support.polling import wait_for
from tests.support.servers import PROJECT, Server, mint_secret

SDK_TESTS = PROJECT / "tests" / "sdk-js"
BUNDLE = SDK_TESTS / "node_modules" / "@openai" / "agents-realtime" / "dist" / "bundle"
CALL_PAGE = """<!doctype html><meta charset="utf-8"><title>agents SDK call</title>"""
TYPED = "hello from the agents SDK"


def serve_the_sdk(server: Server):
    """Answer /sdk/… on the relay's origin: the page, the test's module and the bundle.
    Everything else (the relay itself) reaches the real server."""

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(f"{server.url}/sdk/")
        if path == "call.html":
            route.fulfill(body=CALL_PAGE, content_type="text/html")
            return
        folder, name = SDK_TESTS, path
        if path.startswith("bundle/"):
            folder, name = BUNDLE, path.removeprefix("bundle/")
        file = (folder / name).resolve()
        if file.parent != folder.resolve() or not file.is_file():
            route.fulfill(status=404, body="not found")
            return
        route.fulfill(body=file.read_bytes(), content_type="text/javascript")

    return serve


@pytest.fixture
def sdk_bundle() -> Path:
    assert (BUNDLE / "openai-realtime-agents.mjs").is_file(), (
        "the SDK is not installed: `make test` runs npm install in tests/sdk-js"
    )
    return BUNDLE


def test_the_agents_sdks_webrtc_call_through_the_relay_is_recorded(launch, page_server, sdk_bundle):
    page = launch("turn").new_page()
    page.route(f"{page_server.url}/sdk/**", serve_the_sdk(page_server))
    page.goto(f"{page_server.url}/sdk/call.html")

    call = page.evaluate(
        """async (options) => {
            const { holdACall } = await import("/sdk/webrtc_call.mjs");
            return holdACall(options);
        }""",
        {
            "apiKey": mint_secret(page_server)["value"],
            "baseUrl": f"{page_server.url}/api/realtime/handshake",
            "typed": TYPED,
        },
    )

    assert call["errors"] == []
    assert call["statuses"] == ["completed", "completed"]
    assert "seconds of speech" in call["texts"][0]
    assert TYPED in call["texts"][1]
    assert call["callId"].startswith("rtc_")
    session = wait_for(
        lambda: next(
            iter(
                rows(
                    page_server,
                    "select * from realtime_realtimesession where call_id = ? "
                    "and ended_at is not null",
                    call["callId"],
                )
            ),
            None,
        ),
        what="the SDK's call to be recorded and ended",
    )
    # The SDK closes its peer and hangs up nothing: OpenAI ends the call, and the sideband
    # hears it end.
    assert session["end_reason"] == "call_ended"
    assert session["turns"] == 2
    assert float(session["cost_usd"]) > 0
    assert session["output_audio_tokens"] > 0
    entries = rows(
        page_server,
        "select kind, text from realtime_conversationentry where session_id = ? order by at, id",
        session["id"],
    )
    kinds = [entry["kind"] for entry in entries]
    assert kinds.count("user_speech") == 1
    assert [entry["text"] for entry in entries if entry["kind"] == "user_text"] == [TYPED]
    assert [entry["text"] for entry in entries if entry["kind"] == "assistant"] == call["texts"]
    responses = rows(
        page_server,
        "select status, turn_to_done_ms, output_audio_tokens from realtime_responserecord "
        "where session_id = ?",
        session["id"],
    )
    assert [response["status"] for response in responses] == ["completed", "completed"]
    assert all(response["turn_to_done_ms"] > 0 for response in responses)
