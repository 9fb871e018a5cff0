"""The sideband of a relayed WebRTC call: it records the call, survives drops, ends its row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from realtime import drain, record_writer
from realtime.models import ConversationEntry, RealtimeSession, ResponseRecord
from realtime.sideband import WatchedCall
from realtime.sidebands import sidebands
from tests.support.calls import listeners
from tests.support.polling import eventually
from tests.support.webrtc_client import WebRTCClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]


@pytest.fixture
async def caller() -> AsyncIterator[WebRTCClient]:
    client = WebRTCClient()
    yield client
    await client.close()


async def relay_call(browser, csrf_token, caller: WebRTCClient, bearer: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {"X-CSRFToken": csrf_token}
    answer = await browser.post(
        "/api/realtime/handshake",
        data=(await caller.offer()).encode(),
        content_type="application/sdp",
        headers=headers,
    )
    assert answer.status_code == 201, answer.content
    await caller.accept(answer.content.decode())
    return answer["X-Realtime-Call-Id"]


async def mint(browser, csrf_token) -> dict:
    """An ek_ secret, minted as the page mints one (the ephemeral flow)."""
    minted = await browser.post(
        "/api/realtime/client-secret",
        data={},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )
    assert minted.status_code == 200, minted.content
    return minted.json()


async def sideband_attached(emulator, outputs: int = 2) -> None:
    await eventually(lambda: listeners(emulator) == outputs, 10, what="the sideband to attach")


async def hang_up(browser, csrf_token, call_id: str) -> None:
    response = await browser.post(
        "/api/realtime/hangup",
        data={"call_id": call_id},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )
    assert response.status_code == 204


async def ended(call_id: str) -> RealtimeSession:
    return await eventually(
        lambda: RealtimeSession.objects.filter(call_id=call_id, ended_at__isnull=False).afirst(),
        10,
        what=f"the session of {call_id} to end",
    )


async def a_call_with_a_typed_turn(
    browser, csrf_token, caller, emulator, text: str
) -> tuple[list[dict], RealtimeSession]:
    """Relay a call, wait for its sideband, hold a typed turn and hang up: the turn's events
    and the session as it ended."""
    call_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator)
    events = await caller.ask(text)
    await hang_up(browser, csrf_token, call_id)
    return events, await ended(call_id)


async def timeline(session: RealtimeSession) -> list[tuple[str, str]]:
    return [
        (entry.kind, entry.status or entry.text)
        async for entry in ConversationEntry.objects.filter(session=session)
    ]


async def test_a_unified_call_is_recorded_by_its_sideband_until_hangup(
    browser, csrf_token, caller, emulator
):
    events, session = await a_call_with_a_typed_turn(
        browser, csrf_token, caller, emulator, "hello over the data channel"
    )

    reply = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert await timeline(session) == [
        ("sideband", "attached"),
        ("user_text", "hello over the data channel"),
        ("assistant", "completed"),
    ]
    assert await ConversationEntry.objects.filter(session=session, text=reply).aexists()
    response = await ResponseRecord.objects.aget(session=session)
    assert response.status == "completed"
    assert response.turn_to_done_ms > 0
    assert response.cost_usd > 0
    assert session.end_reason == "hangup"
    assert session.turns == 1
    assert session.cost_usd == response.cost_usd
    assert session.total_tokens == events[-1]["response"]["usage"]["total_tokens"]
    assert session.server_process  # a sweep can end it if this process is killed


async def test_an_ephemeral_call_is_recorded_under_the_session_its_mint_started(
    browser, csrf_token, caller, emulator
):
    minted = await mint(browser, csrf_token)
    call_id = await relay_call(browser, csrf_token, caller, bearer=minted["value"])
    await sideband_attached(emulator)
    await caller.ask("hello with a secret")
    await hang_up(browser, csrf_token, call_id)

    session = await ended(call_id)
    assert await RealtimeSession.objects.acount() == 1  # the mint's session, joined by the call
    assert ("user_text", "hello with a secret") in await timeline(session)
    assert session.cost_usd > 0
    assert session.end_reason == "hangup"


async def test_a_call_that_openai_ends_ends_its_session(browser, csrf_token, caller, emulator):
    call_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator)

    emulator.reset()  # OpenAI's side ends every call (as its 60-minute limit would)

    session = await ended(call_id)
    assert session.end_reason == "call_ended"


async def test_a_dropped_sideband_attaches_again_and_records_the_rest_of_the_call(
    browser, csrf_token, caller, emulator
):
    emulator.fault("sideband", drop_after_events=1)  # drops right after session.created
    call_id = await relay_call(browser, csrf_token, caller)
    await eventually(
        lambda: ConversationEntry.objects.filter(status="dropped").aexists(),
        10,
        what="the drop to be recorded",
    )
    await sideband_attached(emulator)
    await caller.ask("after the drop")
    await hang_up(browser, csrf_token, call_id)

    session = await ended(call_id)
    assert [status for kind, status in await timeline(session) if kind == "sideband"] == [
        "attached",
        "dropped",
        "attached",
    ]
    assert ("user_text", "after the drop") in await timeline(session)
    assert session.end_reason == "hangup"


async def test_a_sideband_to_a_call_already_gone_ends_the_session_truthfully():
    session = await RealtimeSession.objects.acreate(source="web", transport="webrtc")

    sidebands().watch(WatchedCall("rtc_gone", session.pk, "gpt-realtime-2.1"))

    await eventually(
        lambda: RealtimeSession.objects.filter(pk=session.pk, ended_at__isnull=False).aexists(),
        10,
        what="the session to end",
    )
    await session.arefresh_from_db()
    assert session.end_reason == "call_ended"
    assert await timeline(session) == [("sideband", "not attached")]


async def test_with_the_sideband_off_no_second_connection_is_made(
    browser, csrf_token, caller, emulator, settings
):
    settings.REALTIME_SIDEBAND = False
    call_id = await relay_call(browser, csrf_token, caller)
    await caller.ask("nobody listens")

    assert listeners(emulator) == 1
    await hang_up(browser, csrf_token, call_id)
    session = await ended(call_id)
    assert session.end_reason == "hangup"
    assert not await ConversationEntry.objects.filter(session=session).aexists()


async def test_a_full_record_buffer_never_breaks_the_call(
    browser, csrf_token, caller, emulator, monkeypatch
):
    monkeypatch.setattr(record_writer.RecordWriter, "put", lambda self, *record: False)
    events, session = await a_call_with_a_typed_turn(
        browser, csrf_token, caller, emulator, "into a full buffer"
    )

    assert events[-1]["response"]["status"] == "completed"
    assert session.records_dropped >= 3  # attached, the typed turn, the response, the reply
    assert session.cost_usd > 0  # the totals are kept in memory, not in the buffer
    assert session.end_reason == "hangup"


async def test_a_database_that_refuses_the_records_never_breaks_the_call(
    browser, csrf_token, caller, emulator, monkeypatch
):
    def database_down(batch):
        raise RuntimeError("database is down")

    monkeypatch.setattr(record_writer, "write_batch", database_down)
    events, session = await a_call_with_a_typed_turn(
        browser, csrf_token, caller, emulator, "into a broken database"
    )

    assert events[-1]["response"]["status"] == "completed"
    assert session.end_reason == "hangup"
    assert session.cost_usd > Decimal(0)


async def test_a_stopping_server_ends_its_sidebands_and_their_records(
    browser, csrf_token, caller, emulator, monkeypatch
):
    registry = drain.Registry()
    monkeypatch.setattr(drain, "live", registry)
    call_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator)
    await caller.ask("just before the restart")

    await registry.drain(grace=2)

    session = await ended(call_id)
    assert session.end_reason == "server_shutting_down"
    assert ("user_text", "just before the restart") in await timeline(session)
    assert len(registry) == 0
