"""The voice chat page on GPT-Live, over both transports, in Chromium against daphne and the
emulator: a spoken turn and a typed one, both sides in the transcript, Stop releasing
everything, and the session's record."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import rows, save_screenshot, start_chromium
from tests.support.polling import wait_for

TURN_MS = 30_000  # a spoken turn, its reply at four times real time, and playback
# The page's own code is not instrumented: with conftest's record of its microphone streams
# and peers, these let a test see every socket and audio context it opened, to check that
# Stop ends them all.
RECORD_SOCKETS_AND_AUDIO = """
window.__sockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    window.__sockets.push(this);
  }
};
window.__audioContexts = [];
window.AudioContext = class extends window.AudioContext {
  constructor(...args) {
    super(...args);
    window.__audioContexts.push(this);
  }
};
"""
END_REASONS = {"webrtc": "hangup", "websocket": "close_requested"}
# What the page opened, and whether each one is now ended, closed or released.
OPENED = """() => ({
  streams: window.__streams.length,
  peers: window.__peers.length,
  sockets: window.__sockets.length,
  audio: window.__audioContexts.length,
})"""
RELEASED = """() => window.__streams.every(
    (stream) => stream.getTracks().every((track) => track.readyState === "ended"))
  && window.__peers.every((peer) => peer.connectionState === "closed")
  && window.__sockets.every((socket) => socket.readyState === WebSocket.CLOSED)
  && window.__audioContexts.every((context) => context.state === "closed")"""


@pytest.fixture(scope="module")
def browser(playwright_driver, microphones, tmp_path_factory) -> Iterator[BrowserContext]:
    """One Chromium for the module (each test reloads the page), its microphone one turn."""
    profile = tmp_path_factory.mktemp("live-profile")
    context = start_chromium(playwright_driver, profile, microphones["turn"])
    context.add_init_script(RECORD_SOCKETS_AND_AUDIO)
    yield context
    context.close()


def open_live_page(browser: BrowserContext, server, transport: str) -> Page:
    """The page with GPT-Live and ``transport`` chosen, reloaded: the choices are remembered."""
    page = browser.pages[0] if browser.pages else browser.new_page()
    page.goto(server.url + "/")
    page.get_by_label("GPT-Live").check()
    page.get_by_label("WebSocket" if transport == "websocket" else "WebRTC").check()
    page.reload()
    return page


def live_session_heard_a_turn(emulator) -> dict | None:
    for session in emulator.state()["live_sessions"].values():
        if session["turns"] >= 1 and session["max_input_level"] > 0.01:
            return session
    return None


def ended_live_session(server, transport: str) -> dict:
    return wait_for(
        lambda: next(
            iter(
                rows(
                    server,
                    "select * from realtime_realtimesession where api = 'live' and transport = ? "
                    "and ended_at is not null order by id desc",
                    transport,
                )
            ),
            None,
        ),
        what=f"the {transport} Live session's row to be closed",
    )


@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_a_live_conversation_on_the_page_is_shown_released_and_recorded(
    browser, page_server, emulator, transport
):
    page = open_live_page(browser, page_server, transport)
    expect(page.get_by_label("GPT-Live")).to_be_checked()
    expect(page.get_by_label("WebSocket" if transport == "websocket" else "WebRTC")).to_be_checked()
    expect(page.locator("#model")).to_have_text("gpt-live-1.1")

    # A spoken turn: the fake microphone's speech, heard and answered.
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)
    wait_for(lambda: live_session_heard_a_turn(emulator), what="the emulator to hear a turn")
    expect(page.locator(".turn.user .text").first).to_contain_text("seconds of speech")
    expect(page.locator(".turn.assistant .text").first).to_contain_text(
        "seconds of audio.", timeout=TURN_MS
    )
    wait_for(
        lambda: float(page.locator("#output-level").get_attribute("data-peak")) > 0.01,
        what="assistant audio to play in the page",
    )
    assert float(page.locator("#input-level").get_attribute("data-peak")) > 0.01

    # A typed turn. Muted first: the fake microphone replays its speech, which would cut in.
    page.get_by_role("button", name="Mute").click()
    page.get_by_label("Type instead of speaking").fill("a typed question")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".turn.user .text").last).to_have_text("a typed question")
    expect(page.locator(".turn.assistant .text").last).to_contain_text(
        '"a typed question"', timeout=TURN_MS
    )
    log = page.locator("#event-log")
    expect(log).to_contain_text("← session.started")
    expect(log).to_contain_text("→ session.instructions.append")
    save_screenshot(page, f"voice-chat-live-{transport}")

    page.get_by_role("button", name="Stop").click()

    expect(page.locator("#status")).to_have_text("idle")
    expect(page.locator("#summary")).to_contain_text("turns · about $")
    wait_for(
        lambda: page.evaluate(RELEASED),
        what="Stop to release the microphone, the call or socket, and the audio",
    )
    opened = page.evaluate(OPENED)
    assert opened["streams"] == 1
    assert opened["peers" if transport == "webrtc" else "sockets"] == 1
    assert opened["audio"] == 2  # levels (WebRTC) or capture and playback (WebSocket)
    session = ended_live_session(page_server, transport)
    assert session["model"] == "gpt-live-1.1"
    # The page's hangup ends a WebRTC session; its session.close a WebSocket one.
    assert session["end_reason"] == END_REASONS[transport]
    assert float(session["usage_seconds"]) >= 1
    assert float(session["cost_usd"]) > 0
    entries = rows(
        page_server,
        "select kind, text from realtime_conversationentry where session_id = ? order by at, id",
        session["id"],
    )
    spoken = [entry["text"] for entry in entries if entry["kind"] == "user_speech"]
    replies = [entry["text"] for entry in entries if entry["kind"] == "assistant"]
    assert "seconds of speech" in spoken[0]
    assert "seconds of audio." in replies[0]
    assert any('"a typed question"' in reply for reply in replies)
    # Typed words reach the proxy; over WebRTC they go straight to OpenAI, and the sideband
    # hears only that something was appended: a typed turn whose words it never saw.
    typed = [entry["text"] for entry in entries if entry["kind"] == "user_text"]
    assert typed == ["a typed question" if transport == "websocket" else ""]
    wait_for(lambda: emulator.state()["live_sessions"] == {}, what="the Live session to end")


def test_a_live_handshake_that_fails_upstream_shows_the_hint(browser, page_server, emulator):
    emulator.fault("live_sessions", status=500)
    page = open_live_page(browser, page_server, "webrtc")

    page.get_by_role("button", name="Start").click()

    expect(page.locator("#status")).to_have_text("error", timeout=15_000)
    expect(page.locator("#problem")).to_have_attribute("data-code", "upstream_server_error")
    expect(page.locator("#problem-hint")).to_contain_text("OpenAI's side")
    wait_for(lambda: page.evaluate(RELEASED), what="the failed start to release everything")
