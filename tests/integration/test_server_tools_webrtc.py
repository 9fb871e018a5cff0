"""Server tools on a WebRTC call: the sideband hears the model's call, the server runs the
tool and answers it there; the caller's peer never answers a tool call itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from realtime.models import ConversationEntry
from tests.integration.test_sideband import (
    ended,
    hang_up,
    mint,
    relay_call,
    sideband_attached,
)
from tests.support.webrtc_client import WebRTCClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]


@pytest.fixture(autouse=True)
def server_tools(settings) -> None:
    settings.REALTIME_SERVER_TOOLS = ["tests.support.tools.lookup_order"]


@pytest.fixture
async def caller() -> AsyncIterator[WebRTCClient]:
    client = WebRTCClient()
    yield client
    await client.close()


def said(response_done: dict) -> str:
    return "".join(
        part.get("transcript") or part.get("text") or ""
        for item in response_done["response"]["output"]
        if item["type"] == "message"
        for part in item["content"]
    )


async def test_a_call_through_the_relay_gets_the_server_tools_answer_and_the_log_holds_it(
    browser, csrf_token, caller, emulator
):
    call_id = await relay_call(browser, csrf_token, caller)
    await sideband_attached(emulator)

    called = await caller.ask("lookup_order 42")
    assert called[-1]["response"]["output"][0]["name"] == "lookup_order"
    # The caller does nothing: the sideband answered, and the model speaks of the result.
    answered = await caller.until("response.done", seconds=30)
    text = said(answered[-1])
    assert text.startswith("The lookup_order tool returned: ")
    result = json.loads(text.removeprefix("The lookup_order tool returned: ")[:-1])
    assert result == {"order": "42", "status": "shipped", "asked_by": None, "transport": "webrtc"}

    await hang_up(browser, csrf_token, call_id)
    session = await ended(call_id)
    runs = [
        entry async for entry in ConversationEntry.objects.filter(session=session, kind="tool_run")
    ]
    assert [(run.name, run.status) for run in runs] == [("lookup_order", "completed")]
    assert json.loads(runs[0].text) == result
    assert session.turns == 1  # the user's; the tool's answer is the model's second response
    assert await session.responses.acount() == 2


async def test_an_ephemeral_call_runs_the_server_tools_its_mint_declared(
    browser, csrf_token, caller, emulator
):
    minted = await mint(browser, csrf_token)
    assert "lookup_order" in [tool["name"] for tool in minted["session"]["tools"]]
    call_id = await relay_call(browser, csrf_token, caller, bearer=minted["value"])
    await sideband_attached(emulator)

    await caller.ask("lookup_order 9")
    answered = await caller.until("response.done", seconds=30)
    assert '"order":"9"' in said(answered[-1])
    await hang_up(browser, csrf_token, call_id)
    await ended(call_id)
