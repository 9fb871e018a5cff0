"""The GPT-Live session a profile asks for is one the service takes, over either transport."""

import asyncio
import json

import pytest

from realtime import agents, upstream_live
from realtime.agent_models import Agent
from realtime.conf import get_settings

pytestmark = pytest.mark.usefixtures("openai_emulator")
TOOLS = ["tests.support.tools.lookup_order", "tests.support.tools.add_numbers"]


def profile(**changes) -> agents.Profile:
    from dataclasses import replace

    return replace(agents.Profile.from_settings(get_settings()), **changes)


def test_a_live_session_delegates_every_function_tool_to_the_responses_backend(settings):
    settings.REALTIME_SERVER_TOOLS = TOOLS
    config = profile().live_session_config(webrtc=False)
    assert config["model"] == get_settings().live_model
    delegation = config["delegation"]
    assert (delegation["type"], delegation["responses"]["model"]) == (
        "responses",
        agents.DELEGATION_MODEL,
    )
    names = [tool["name"] for tool in delegation["responses"]["tools"]]
    assert names == ["lookup_order", "add_numbers"]


def test_client_delegation_names_no_backend():
    config = profile(delegation="client").live_session_config(webrtc=True)
    assert config["delegation"] == {"type": "client"}


async def test_the_service_starts_a_live_socket_session_from_the_profile(settings):
    settings.REALTIME_SERVER_TOOLS = TOOLS
    session = profile().live_session_config(webrtc=False)
    session["audio"]["format"] = {"type": "audio/pcm", "rate": 24000}
    socket = await upstream_live.open_live_socket()
    try:
        await socket.send(json.dumps({"type": "session.start", "session": session}))
        async with asyncio.timeout(10):
            started = json.loads(await socket.recv())
    finally:
        await socket.close()
    assert started["type"] == "session.started", started
    assert started["session"]["delegation"]["type"] == "responses"


async def test_the_service_creates_a_live_webrtc_session_from_the_profile(browser_offer):
    config = profile(delegation="client").live_session_config(webrtc=True)
    answer = await upstream_live.create_live_session(config, browser_offer.decode())
    assert answer.sdp.startswith("v=")
    await upstream_live.hang_up_live_session(answer.session_id)


def test_an_agents_live_fields_reach_its_profile():
    agent = Agent(
        name="x",
        slug="x",
        instructions="x",
        api="live",
        live_model="gpt-live-1",
        delegation="client",
        delegation_model="gpt-5.2",
    )

    made = agents.Profile.of_agent(agent, get_settings(), revision_id=None)

    assert (made.api, made.live_model, made.delegation, made.delegation_model) == (
        "live",
        "gpt-live-1",
        "client",
        "gpt-5.2",
    )


def test_an_agents_blank_live_models_are_the_settings_and_the_default_backend(settings):
    settings.REALTIME_LIVE_MODEL = "gpt-live-1"
    agent = Agent(name="x", slug="x", instructions="x")

    made = agents.Profile.of_agent(agent, get_settings(), revision_id=None)

    assert (made.api, made.live_model, made.delegation, made.delegation_model) == (
        "realtime",
        "gpt-live-1",
        "responses",
        agents.DELEGATION_MODEL,
    )
