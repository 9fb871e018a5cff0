"""The voice chat page in Chromium, over both transports, against daphne and the emulator."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_page, rows, save_screenshot
from tests.support.polling import wait_for

TURN_SECONDS = 30_000  # ms: a spoken turn, its reply at four times real time, and playback


def emulator_heard_a_turn(emulator) -> dict | None:
    for session in emulator.state()["sessions"].values():
        if session["turns"] >= 1 and session["max_input_level"] > 0.01:
            return session
    return None


def streams_ended(page) -> bool:
    return page.evaluate(
        "window.__streams.length > 0 && "
        "window.__streams.every(s => s.getTracks().every(t => t.readyState === 'ended'))"
    )


def converse(page, emulator):
    """Start, hear the assistant answer a spoken turn, and check both sides' transcript."""
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)
    session = wait_for(lambda: emulator_heard_a_turn(emulator), what="the emulator to hear a turn")
    assistant = page.locator(".turn.assistant .text").first
    expect(assistant).to_contain_text("seconds of", timeout=TURN_SECONDS)
    expect(page.locator(".turn.user .text").first).to_contain_text("seconds of speech")
    wait_for(
        lambda: float(page.locator("#output-level").get_attribute("data-peak")) > 0.01,
        what="assistant audio to play in the page",
    )
    return session


@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_a_spoken_turn_round_trips_and_stop_releases_everything(
    launch, page_server, emulator, transport
):
    page = open_page(launch("turn"), page_server, transport)

    session = converse(page, emulator)
    assert session["audio_in_ms"] > 500
    assert float(page.locator("#input-level").get_attribute("data-peak")) > 0.01
    save_screenshot(page, f"voice-chat-connected-{transport}")
    page.get_by_role("button", name="Stop").click()

    expect(page.locator("#status")).to_have_text("idle")
    wait_for(lambda: streams_ended(page), what="the microphone to be released")
    ended = wait_for(
        lambda: rows(
            page_server,
            "select * from realtime_realtimesession where transport = ? and ended_at is not null",
            transport,
        ),
        what="the session row to be closed",
    )
    assert ended[-1]["model"] == "gpt-realtime-2.1"
    wait_for(lambda: emulator.state()["sessions"] == {}, what="the upstream session to end")


# The call's selected pair and what was gathered, from the page's peer as the browser sees
# it (LOOPBACK_PEERS keeps the peer).
SELECTED_PAIR = """async () => {
  const peer = window.__peers.at(-1);
  const stats = [...(await peer.getStats()).values()];
  const byId = new Map(stats.map((entry) => [entry.id, entry]));
  const transport = stats.find((entry) => entry.type === "transport");
  const pair = byId.get(transport.selectedCandidatePairId);
  return {
    state: pair.state,
    nominated: pair.nominated,
    local: byId.get(pair.localCandidateId).address,
    remote: byId.get(pair.remoteCandidateId).address,
    gathered: stats.filter((entry) => entry.type === "local-candidate").map((c) => c.candidateType),
    iceServers: peer.getConfiguration().iceServers,
  };
}"""


def test_a_webrtc_call_from_the_page_pairs_on_loopback_without_stun(launch, page_server, emulator):
    page = open_page(launch("turn"), page_server, "webrtc")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)

    # "connected" is the data channel; the pair's own checks may still be finishing.
    selected = wait_for(
        lambda: (pair := page.evaluate(SELECTED_PAIR))["state"] == "succeeded" and pair,
        what="the selected candidate pair to succeed",
    )
    page.get_by_role("button", name="Stop").click()

    assert (selected["state"], selected["nominated"]) == ("succeeded", True)
    assert (selected["local"], selected["remote"]) == ("127.0.0.1", "127.0.0.1")
    assert selected["iceServers"] == []
    assert set(selected["gathered"]) == {"host"}  # nothing server-reflexive or relayed


def test_the_ephemeral_webrtc_flow_mints_then_relays(launch, ephemeral_page_server, emulator):
    page = open_page(launch("turn"), ephemeral_page_server, "webrtc")

    converse(page, emulator)
    page.get_by_role("button", name="Stop").click()

    kinds = [
        row["kind"]
        for row in rows(
            ephemeral_page_server, "select kind from realtime_upstreamexchange order by id"
        )
    ]
    assert kinds[:2] == ["client_secret", "call"]


def test_the_transport_choice_is_remembered(launch, page_server):
    context = launch("turn")
    page = open_page(context, page_server, "websocket")

    page.reload()

    expect(page.get_by_label("WebSocket")).to_be_checked()


@pytest.mark.parametrize(
    ("transport", "endpoint"), [("webrtc", "calls"), ("websocket", "realtime")]
)
def test_an_upstream_500_shows_the_hint_and_leaves_a_row(
    launch, page_server, emulator, transport, endpoint
):
    emulator.fault(endpoint, status=500)
    page = open_page(launch("turn"), page_server, transport)

    page.get_by_role("button", name="Start").click()

    expect(page.locator("#status")).to_have_text("error", timeout=15_000)
    expect(page.locator("#problem")).to_have_attribute("data-code", "upstream_server_error")
    expect(page.locator("#problem-hint")).to_contain_text("OpenAI's side")
    row = rows(
        page_server,
        "select outcome, upstream_status from realtime_upstreamexchange order by id desc limit 1",
    )[0]
    assert (row["outcome"], row["upstream_status"]) == ("upstream_error", 500)


def test_speaking_over_the_reply_cuts_it_off_over_websocket(launch, page_server, emulator):
    page = open_page(launch("barge_in"), page_server, "websocket")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)

    truncated = wait_for(
        lambda: [
            record["event"]
            for record in emulator.received()
            if record["kind"] == "event" and record["event"]["type"] == "conversation.item.truncate"
        ],
        timeout=30,
        what="the page to truncate the interrupted reply",
    )

    # The player dropped what it had queued and said how much was heard; the service cut
    # the item there, and the transcript marks the reply as interrupted.
    cut = truncated[0]
    assert cut["content_index"] == 0
    assert cut["audio_end_ms"] >= 0
    interrupted = page.locator(f"#turn-{cut['item_id']}")
    expect(interrupted).to_have_attribute("data-interrupted", "true", timeout=10_000)
    expect(page.locator("#event-log")).to_contain_text("→ conversation.item.truncate")
    page.get_by_role("button", name="Stop").click()


def test_the_page_works_on_a_phone_sized_screen_with_the_keyboard(launch, page_server, emulator):
    page = open_page(launch("turn"), page_server, "websocket")
    page.set_viewport_size({"width": 375, "height": 740})

    page.get_by_label("WebSocket").focus()
    page.keyboard.press("Tab")  # from the transport choice to Start
    focused = page.evaluate("document.activeElement.id")
    page.keyboard.press("Enter")

    assert focused == "start"
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    for control in ("Start", "Stop", "Mute"):
        assert page.get_by_role("button", name=control).bounding_box()["width"] > 40
    page.get_by_role("button", name="Stop").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("idle")


def test_loading_the_page_and_making_a_call_logs_no_console_errors(launch, page_server, emulator):
    context = launch("turn")
    page = context.pages[0]  # the page open_page uses, watched from before it loads
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    open_page(context, page_server, "webrtc")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#status")).to_have_text("connected", timeout=15_000)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#status")).to_have_text("idle")
    wait_for(lambda: emulator.state()["sessions"] == {}, what="the hangup to end the call")

    assert errors == []
