"""A conversation held on the page, read back by staff: the record and the admin's page."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_page, rows, save_screenshot
from tests.browser.test_voice_chat_page import converse
from tests.support.polling import wait_for
from tests.support.servers import create_superuser

STAFF = ("staff", "a-long-test-password-1")


def type_a_message(page, text: str) -> None:
    # Muted first: the fake microphone replays its speech, which would barge in on the reply.
    page.get_by_role("button", name="Mute").click()
    page.get_by_label("Type instead of speaking").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".turn.assistant .text").last).to_contain_text(text, timeout=30_000)


def ask_for_a_tool(page, server) -> None:
    """A typed message naming the server's tool: the model calls it, the server runs it, the
    page shows the call and its result as they happen, and the model speaks of it."""
    answers = (
        "select id from realtime_conversationentry where kind = 'assistant' "
        "and text like 'The lookup_order tool returned%'"
    )
    answered_before = len(rows(server, answers))  # by earlier tests' sessions
    page.get_by_label("Type instead of speaking").fill("lookup_order 42")
    page.get_by_role("button", name="Send").click()
    tool_turn = page.locator(".turn.tool .text").last
    expect(tool_turn).to_contain_text('lookup_order({"order": "42"})', timeout=30_000)
    expect(tool_turn).to_contain_text('"status":"shipped"')
    expect(page.locator(".turn.assistant .text").last).to_contain_text(
        "The lookup_order tool returned", timeout=30_000
    )
    # Heard to its end (response.done), which the page's Stop would otherwise cut short.
    wait_for(
        lambda: len(rows(server, answers)) > answered_before,
        what="the model's answer with the tool's result to be recorded",
    )


def ended_session(server, transport: str) -> dict:
    """The session the page's Stop ended. A WebRTC call may end at OpenAI (the page closes
    its peer) just before the page's hangup arrives, which then names the reason."""
    reasons = ("hangup",) if transport == "webrtc" else ("client_closed", "hangup")
    return wait_for(
        lambda: next(
            (
                row
                for row in rows(
                    server,
                    "select * from realtime_realtimesession where transport = ? "
                    "and ended_at is not null and turns >= 3 order by id desc",
                    transport,
                )
                if row["end_reason"] in reasons
            ),
            None,
        ),
        what=f"the {transport} session to end with its turns",
    )


def hold_a_conversation(page, emulator, server, transport: str) -> dict:
    converse(page, emulator)  # a spoken turn and its reply
    type_a_message(page, "a typed question")
    ask_for_a_tool(page, server)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#summary")).to_contain_text("3 turns")
    expect(page.locator("#summary")).to_contain_text("about $")
    return ended_session(server, transport)


def assert_recorded(server, session: dict) -> None:
    entries = rows(
        server,
        "select kind, name, text from realtime_conversationentry where session_id = ? "
        "order by at, id",
        session["id"],
    )
    spoken = [entry["text"] for entry in entries if entry["kind"] == "user_speech"]
    typed = [entry["text"] for entry in entries if entry["kind"] == "user_text"]
    replies = [entry["text"] for entry in entries if entry["kind"] == "assistant"]
    assert spoken
    assert "seconds of speech" in spoken[0]
    assert typed == ["a typed question", "lookup_order 42"]
    assert len(replies) == 3
    assert "a typed question" in replies[1]
    calls = [
        (entry["name"], json.loads(entry["text"]))
        for entry in entries
        if entry["kind"] == "function_call"
    ]
    assert calls == [("lookup_order", {"order": "42"})]
    runs = [(entry["name"], entry["kind"]) for entry in entries if entry["kind"] == "tool_run"]
    assert runs == [("lookup_order", "tool_run")]
    assert "The lookup_order tool returned" in replies[-1]
    responses = rows(
        server, "select * from realtime_responserecord where session_id = ?", session["id"]
    )
    assert len(responses) == 4
    assert all(response["status"] == "completed" for response in responses)
    assert all(response["turn_to_done_ms"] > 0 for response in responses)
    assert float(session["cost_usd"]) > 0
    assert session["output_audio_tokens"] > 0
    assert session["end_reason"] in {"hangup", "client_closed"}


@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_a_conversation_on_the_page_is_recorded_and_shown_to_staff(
    launch, page_server, emulator, transport
):
    page = open_page(launch("turn"), page_server, transport)

    session = hold_a_conversation(page, emulator, page_server, transport)

    assert_recorded(page_server, session)
    if transport == "webrtc":
        assert session["end_reason"] == "hangup"
    save_screenshot(page, f"voice-chat-summary-{transport}")
    if not rows(page_server, "select id from auth_user where username = ?", STAFF[0]):
        create_superuser(page_server.env, *STAFF)
    admin = page.context.new_page()
    admin.goto(f"{page_server.url}/admin/realtime/realtimesession/{session['id']}/change/")
    admin.get_by_label("Username").fill(STAFF[0])
    admin.get_by_label("Password").fill(STAFF[1])
    admin.get_by_role("button", name="Log in").click()
    timeline = admin.get_by_role("table", name="conversation")
    expect(timeline).to_contain_text("a typed question")
    expect(timeline).to_contain_text("seconds of speech")
    expect(timeline).to_contain_text("first output")
    expect(timeline).to_contain_text("lookup_order")
    expect(admin.get_by_label("session totals")).to_contain_text("$")
    save_screenshot(admin, f"admin-session-{transport}")


def test_the_ephemeral_flow_is_recorded_the_same_way(launch, ephemeral_page_server, emulator):
    page = open_page(launch("turn"), ephemeral_page_server, "webrtc")

    session = hold_a_conversation(page, emulator, ephemeral_page_server, "webrtc")

    assert_recorded(ephemeral_page_server, session)
    assert session["end_reason"] == "hangup"
