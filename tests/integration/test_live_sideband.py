"""The sideband of a GPT-Live session the page relayed: it records the session (speech,
usage, cost, how it ended) until it ends, survives drops, runs server tools, and ends for
staff and after a takeover as a Realtime call's does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime import ending, sideband_leases, sidebands
from realtime.models import ConversationEntry, RealtimeSession, UpstreamExchange
from tests.support.live import utterance
from tests.support.live_relay import (
    connections,
    ended,
    hang_up,
    relay_call,
    said,
    sideband_attached,
)
from tests.support.polling import eventually
from tests.support.webrtc_client import WebRTCClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]


@pytest.fixture
async def caller() -> AsyncIterator[WebRTCClient]:
    client = WebRTCClient()
    yield client
    await client.close()


@pytest.fixture
def channel_layer(settings) -> None:
    """A layer through which staff's end reaches the process that watches the session."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


async def timeline(session: RealtimeSession) -> list[tuple[str, str]]:
    return [
        (entry.kind, entry.status or entry.text)
        async for entry in ConversationEntry.objects.filter(session=session)
    ]


async def a_spoken_turn(emulator, caller: WebRTCClient, session_id: str, words: str) -> str:
    """Say something the model hears as ``words``; what it answers, once said."""
    emulator.hear(words, session_id=session_id)
    caller.microphone.say(utterance())
    return await said(caller, f'"{words}".')


async def test_a_page_call_is_recorded_by_its_sideband_until_hangup(
    browser, csrf_token, caller, emulator
):
    session_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator, session_id)
    reply = await a_spoken_turn(emulator, caller, session_id, "what a lovely day")

    response = await hang_up(browser, csrf_token, {"session_id": session_id})

    assert response.status_code == 204
    session = await ended(session_id)
    assert await timeline(session) == [
        ("sideband", "attached"),
        ("user_speech", "what a lovely day"),
        ("assistant", reply),
    ]
    assert (session.api, session.end_reason, session.turns) == ("live", "hangup", 1)
    # session.closed's final usage, heard after the hangup: a WebRTC create bills 15 s.
    assert session.usage_seconds >= 15
    assert session.cost_usd > 0
    assert session.server_process  # a sweep can end it if this process is killed


async def test_a_session_the_caller_leaves_ends_as_live_says(browser, csrf_token, caller, emulator):
    session_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator, session_id)

    await caller.close()

    session = await ended(session_id)
    assert session.end_reason == "remote_hangup"
    assert session.usage_seconds >= 15


async def test_a_hangup_openai_fails_leaves_the_session_recorded(
    browser, csrf_token, caller, emulator
):
    session_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator, session_id)
    emulator.fault("live_hangup", status=500)

    failed = await hang_up(browser, csrf_token, {"session_id": session_id})

    assert failed.status_code == 502
    assert "sideband" in connections(emulator, session_id)
    assert (await RealtimeSession.objects.aget(call_id=session_id)).ended_at is None
    assert (await hang_up(browser, csrf_token, {"session_id": session_id})).status_code == 204
    assert (await ended(session_id)).end_reason == "hangup"


async def test_a_dropped_sideband_attaches_again_and_records_the_rest(
    browser, csrf_token, caller, emulator
):
    emulator.fault("live_sideband", drop_after_events=1)  # right after session.started
    session_id = await relay_call(browser, csrf_token, caller)
    await eventually(
        lambda: ConversationEntry.objects.filter(status="dropped").aexists(),
        10,
        what="the drop to be recorded",
    )
    await sideband_attached(emulator, session_id)
    await a_spoken_turn(emulator, caller, session_id, "after the drop")
    await hang_up(browser, csrf_token, {"session_id": session_id})

    session = await ended(session_id)
    notes = [status for kind, status in await timeline(session) if kind == "sideband"]
    assert notes == ["attached", "dropped", "attached"]
    assert ("user_speech", "after the drop") in await timeline(session)
    assert session.end_reason == "hangup"


async def test_a_refused_attach_is_tried_again(browser, csrf_token, caller, emulator):
    emulator.fault("live_sideband", status=503)
    session_id = await relay_call(browser, csrf_token, caller)

    await sideband_attached(emulator, session_id)

    await hang_up(browser, csrf_token, {"session_id": session_id})
    notes = [status for kind, status in await timeline(await ended(session_id))]
    assert notes[:2] == ["not attached", "attached"]


async def test_a_server_tool_the_backend_calls_is_run_by_the_sideband(
    browser, csrf_token, caller, emulator, settings
):
    settings.REALTIME_SERVER_TOOLS = ["tests.support.tools.add_numbers"]
    session_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator, session_id)

    emulator.hear("add_numbers please", session_id=session_id)
    caller.microphone.say(utterance())
    spoken = await said(caller, ".")
    while "tool returned" not in spoken:
        spoken = await said(caller, ".")

    assert spoken.startswith("The add_numbers tool returned: ")
    await hang_up(browser, csrf_token, {"session_id": session_id})
    session = await ended(session_id)
    run = await ConversationEntry.objects.aget(session=session, kind="tool_run")
    assert (run.name, run.status) == ("add_numbers", "completed")


async def test_staff_end_a_watched_live_session_through_its_sideband(
    browser, csrf_token, caller, emulator, channel_layer
):
    session_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator, session_id)
    row = await RealtimeSession.objects.aget(call_id=session_id)

    report = await ending.end_sessions([row.pk])

    assert report.ended == [row.pk]
    session = await ended(session_id)
    assert (session.end_reason, session.usage_seconds >= 15) == ("ended_by_staff", True)
    hangup = await UpstreamExchange.objects.aget(kind="hangup")
    assert (hangup.api, hangup.source, hangup.upstream_status) == ("live", "admin", 200)
    assert session_id not in emulator.state()["live_sessions"]


async def test_staff_end_a_live_session_no_sideband_watches_from_their_own_process(
    browser, csrf_token, caller, emulator, settings
):
    settings.REALTIME_SIDEBAND = False
    session_id = await relay_call(browser, csrf_token, caller)
    row = await RealtimeSession.objects.aget(call_id=session_id)

    report = await ending.end_sessions([row.pk])

    assert report.hung_up_here == [row.pk]
    assert (await ended(session_id)).end_reason == "ended_by_staff"
    hangup = await UpstreamExchange.objects.aget(kind="hangup")
    assert (hangup.api, hangup.upstream_status) == ("live", 200)
    assert session_id not in emulator.state()["live_sessions"]


async def test_a_live_session_whose_sideband_is_gone_is_taken_over_by_attaching(
    browser, csrf_token, caller, emulator, settings
):
    settings.REALTIME_SIDEBAND = False  # as if its process was killed: no sideband, row open
    session_id = await relay_call(browser, csrf_token, caller)
    settings.REALTIME_SIDEBAND = True

    sidebands.start_adopting()
    try:
        await sideband_attached(emulator, session_id)
    finally:
        sideband_leases.adopter.stop()
    await hang_up(browser, csrf_token, {"session_id": session_id})

    session = await ended(session_id)
    assert [status for kind, status in await timeline(session)][:2] == ["taken over", "attached"]
    assert (session.end_reason, session.usage_seconds >= 15) == ("hangup", True)
    assert connections(emulator, session_id) == []
