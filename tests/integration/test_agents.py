"""Agents edited in the admin and applied to every path: the mint, the unified handshake,
the WebSocket proxy's policy and lock, the sideband's tools, the page and mint_secret."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.core.management.base import CommandError

from realtime import retirements, tokens
from realtime.agent_models import Agent
from realtime.agents import Profile, resolve_sync
from realtime.conf import get_settings
from realtime.models import RealtimeSession, UpstreamExchange
from realtime.retirements import Retirement
from realtime.routing import websocket_urlpatterns
from tests.integration.test_sideband import sideband_attached
from tests.support.webrtc_client import WebRTCClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("openai_emulator")]

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
TOOLS = ["tests.support.tools.lookup_order", "tests.support.tools.add_numbers"]
CONCIERGE = {
    "name": "Concierge",
    "slug": "concierge",
    "instructions": "You are the hotel's concierge. Be warm and brief.",
    "voice": "cedar",
    "model": "",
    "transcription": "on",
    "transcription_model": "",
    "turn_detection": "semantic_vad",
    "eagerness": "low",
    "server_tools": ["add_numbers"],
    "api": "realtime",
    "live_model": "",
    "delegation": "responses",
    "delegation_model": "",
    "is_active": "on",
    # The revisions inline, which adds none.
    "revisions-TOTAL_FORMS": "0",
    "revisions-INITIAL_FORMS": "0",
    "revisions-MIN_NUM_FORMS": "0",
    "revisions-MAX_NUM_FORMS": "1000",
}


@pytest.fixture(autouse=True)
def agent_settings(settings) -> None:
    settings.REALTIME_RATE_LIMIT = 0
    settings.REALTIME_SERVER_TOOLS = TOOLS


@pytest.fixture
def concierge(admin_client) -> Agent:
    """The agent as staff create it: through the admin's add form."""
    answer = admin_client.post("/admin/realtime/agent/add/", CONCIERGE)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    return Agent.objects.get(slug="concierge")


def edit(admin_client, agent: Agent, **changes: str) -> None:
    form = {**CONCIERGE, **changes, "revisions-INITIAL_FORMS": str(agent.revisions.count())}
    form["revisions-TOTAL_FORMS"] = form["revisions-INITIAL_FORMS"]
    for index, revision in enumerate(agent.revisions.order_by("-version")):
        form[f"revisions-{index}-id"] = str(revision.pk)
        form[f"revisions-{index}-agent"] = str(agent.pk)
    answer = admin_client.post(f"/admin/realtime/agent/{agent.pk}/change/", form)
    assert answer.status_code == 302, answer.content.decode()[:3000]


# --- the admin and the profile ---------------------------------------------------------------


def test_an_agent_made_in_the_admin_configures_its_sessions(concierge):
    assert (concierge.version, concierge.revisions.count()) == (1, 1)
    session = resolve_sync("concierge").session_config()
    assert session["instructions"] == CONCIERGE["instructions"]
    assert session["audio"]["output"]["voice"] == "cedar"
    assert session["model"] == get_settings().model
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
    }
    assert session["audio"]["input"]["transcription"] == {
        "model": get_settings().transcription_model
    }
    # Only the server tools the agent may call.
    assert [tool["name"] for tool in session["tools"]] == ["add_numbers"]


def test_each_change_of_what_sessions_are_told_is_a_new_version(admin_client, concierge):
    edit(admin_client, concierge, name="Concierge")  # nothing a session hears changed
    concierge.refresh_from_db()
    assert concierge.version == 1
    edit(admin_client, concierge, instructions="Speak like a butler.")
    concierge.refresh_from_db()
    assert concierge.version == 2
    assert [revision.instructions for revision in concierge.revisions.order_by("version")] == [
        CONCIERGE["instructions"],
        "Speak like a butler.",
    ]


def test_the_admin_refuses_a_model_outside_the_allow_list_and_tools_the_server_lacks(
    admin_client, settings
):
    answer = admin_client.post(
        "/admin/realtime/agent/add/", {**CONCIERGE, "model": "gpt-4o-realtime-preview"}
    )
    assert answer.status_code == 200
    assert "gpt-4o-realtime-preview" in answer.content.decode()
    assert not Agent.objects.exists()
    agent = Agent(name="x", slug="x", instructions="x", model="gpt-4o-realtime-preview")
    settings.REALTIME_ALLOWED_MODELS = ["gpt-4o-realtime-preview"]
    agent.server_tools = ["delete_everything"]
    problems = agent_problems(agent)
    assert "delete_everything" in problems["server_tools"]
    # Allowed, but OpenAI has shut it down: the retiring-models table says so.
    assert "gpt-4o-realtime-preview" in problems["model"]
    assert "OpenAI shut gpt-4o-realtime-preview down" in problems["model"]


def agent_problems(agent: Agent) -> dict[str, str]:
    from realtime.agents import configuration_problems

    return configuration_problems(agent)


def test_an_agent_starts_on_gpt_live_with_an_allowed_live_model_and_its_delegation(
    admin_client, settings
):
    settings.REALTIME_ALLOWED_MODELS = ["gpt-live-1"]
    live = {**CONCIERGE, "api": "live", "live_model": "gpt-live-1", "delegation": "client"}

    answer = admin_client.post("/admin/realtime/agent/add/", live)

    assert answer.status_code == 302, answer.content.decode()[:3000]
    profile = resolve_sync("concierge")
    assert (profile.api, profile.live_model, profile.delegation) == ("live", "gpt-live-1", "client")
    assert profile.live_session_config(webrtc=True)["model"] == "gpt-live-1"
    assert Agent.objects.get().revisions.get().configuration["api"] == "live"


def test_the_admin_offers_each_api_only_its_own_allowed_models(admin_client, settings):
    settings.REALTIME_ALLOWED_MODELS = ["gpt-realtime-2.1-mini", "gpt-live-1"]

    form = admin_client.get("/admin/realtime/agent/add/").context["adminform"].form

    assert [value for value, _ in form.fields["model"].choices] == ["", "gpt-realtime-2.1-mini"]
    assert [value for value, _ in form.fields["live_model"].choices] == ["", "gpt-live-1"]
    assert form.fields["live_model"].choices[0][1] == "REALTIME_LIVE_MODEL (gpt-live-1.1)"


def test_the_agent_list_shows_the_api_each_agent_starts_on(admin_client):
    Agent.objects.create(name="Live one", slug="live-one", instructions="x", api="live")

    listing = admin_client.get("/admin/realtime/agent/").content.decode()

    assert "GPT-Live" in listing
    assert "gpt-live-1.1 (REALTIME_LIVE_MODEL)" in listing


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"live_model": "gpt-realtime-2.1"}, "live_model", "not a GPT-Live model"),
        ({"live_model": "gpt-live-1"}, "live_model", "add it to REALTIME_ALLOWED_MODELS"),
        ({"model": "gpt-live-1.1"}, "model", "the Realtime API refuses"),
    ],
)
def test_each_api_takes_only_its_own_allowed_models(fields, field, says):
    agent = Agent(name="x", slug="x", instructions="x", **fields)

    assert says in agent_problems(agent)[field]


def test_a_live_model_on_the_allow_list_is_not_a_realtime_model_for_the_agent(settings):
    settings.REALTIME_ALLOWED_MODELS = ["gpt-live-1"]

    assert "model" in agent_problems(
        Agent(name="x", slug="x", instructions="x", model="gpt-live-1")
    )
    assert (
        agent_problems(Agent(name="x", slug="x", instructions="x", live_model="gpt-live-1")) == {}
    )


def test_a_shut_down_live_model_is_refused_with_its_replacement(settings, monkeypatch):
    settings.REALTIME_ALLOWED_MODELS = ["gpt-live-1"]
    shut_down = Retirement("gpt-live-1", date(2026, 1, 1), "gpt-live-1.1")
    monkeypatch.setattr(retirements, "RETIREMENTS", (*retirements.RETIREMENTS, shut_down))

    problems = agent_problems(Agent(name="x", slug="x", instructions="x", live_model="gpt-live-1"))

    assert problems["live_model"] == (
        "OpenAI shut gpt-live-1 down on 2026-01-01; use gpt-live-1.1 instead."
    )


def test_the_admin_refuses_to_start_an_agent_on_gpt_live_when_it_is_off(admin_client, settings):
    settings.REALTIME_LIVE = False

    answer = admin_client.post("/admin/realtime/agent/add/", {**CONCIERGE, "api": "live"})

    assert answer.status_code == 200
    assert "REALTIME_LIVE" in answer.context["adminform"].form.errors["api"][0]
    assert not Agent.objects.exists()


def test_one_agent_is_the_default_and_without_one_the_settings_are(concierge):
    assert resolve_sync(None) == Profile.from_settings(get_settings())
    concierge.is_default = True
    concierge.save()
    other = Agent.objects.create(name="Other", slug="other", instructions="x", is_default=True)
    concierge.refresh_from_db()
    assert not concierge.is_default
    assert resolve_sync(None).agent_id == other.pk


# --- the three paths -------------------------------------------------------------------------


async def test_the_mint_applies_the_chosen_agent_and_its_session_names_the_version(
    browser, csrf_token, concierge
):
    minted = await browser.post(
        "/api/realtime/client-secret",
        data={"agent": "concierge"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )
    assert minted.status_code == 200, minted.content
    assert minted.json()["session"]["instructions"] == CONCIERGE["instructions"]
    assert minted.json()["session"]["audio"]["output"]["voice"] == "cedar"
    session = await RealtimeSession.objects.select_related("agent_revision").aget(
        secret_fingerprint=(await UpstreamExchange.objects.alatest("id")).secret_fingerprint
    )
    assert session.agent_id == concierge.pk
    assert session.agent_revision.version == 1
    assert session.agent_revision.instructions == CONCIERGE["instructions"]


async def test_an_unknown_agent_is_a_json_404_with_its_record(browser, csrf_token):
    answer = await browser.post(
        "/api/realtime/client-secret",
        data={"agent": "nobody"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_agent"
    row = await UpstreamExchange.objects.alatest("id")
    assert (row.error_code, row.http_status) == ("unknown_agent", 404)


async def test_a_unified_call_applies_the_agent_and_its_sideband_runs_the_agents_tools(
    browser, csrf_token, concierge, emulator
):
    caller = WebRTCClient()
    try:
        offer = (await caller.offer()).encode()
        answer = await browser.post(
            "/api/realtime/handshake?agent=concierge",
            data=offer,
            content_type="application/sdp",
            headers={"X-CSRFToken": csrf_token},
        )
        assert answer.status_code == 201, answer.content
        await caller.accept(answer.content.decode())
        created = (await caller.until("session.created"))[-1]["session"]
        assert created["instructions"] == CONCIERGE["instructions"]
        assert [tool["name"] for tool in created["tools"]] == ["add_numbers"]
        await sideband_attached(emulator)
        await caller.ask("add_numbers please")
        answered = await caller.until("response.done", seconds=30)
        assert "The add_numbers tool returned: 0." in json.dumps(answered[-1])  # 0 + 0
    finally:
        await caller.close()
    session = await RealtimeSession.objects.aget(call_id=answer["X-Realtime-Call-Id"])
    assert session.agent_id == concierge.pk


def proxy_socket(path: str) -> WebsocketCommunicator:
    token = tokens.issue(None, ttl=60).value
    return WebsocketCommunicator(
        application, path, headers=[(b"authorization", f"Bearer {token}".encode())]
    )


async def until(communicator: WebsocketCommunicator, event_type: str) -> dict:
    while True:
        event = await communicator.receive_json_from(timeout=10)
        if event["type"] == event_type:
            return event


async def test_the_proxy_applies_the_agent_and_locks_its_instructions_for_the_session(
    admin_client, concierge
):
    communicator = proxy_socket("/v1/realtime?agent=concierge")
    connected, _ = await communicator.connect()
    assert connected
    updated = await until(communicator, "session.updated")
    assert updated["session"]["instructions"] == CONCIERGE["instructions"]
    assert updated["session"]["audio"]["output"]["voice"] == "cedar"

    # Staff change the agent mid-session: the session keeps what it started with.
    await sync_to_async(edit)(admin_client, concierge, instructions="Speak like a butler.")
    await communicator.send_json_to(
        {"type": "session.update", "session": {"type": "realtime", "instructions": "Be rude."}}
    )
    refused = await until(communicator, "error")
    assert refused["error"]["code"] == "session_locked"
    await communicator.send_json_to(
        {
            "type": "session.update",
            "session": {"type": "realtime", "instructions": CONCIERGE["instructions"]},
        }
    )
    await until(communicator, "session.updated")  # restating its own is allowed
    await communicator.disconnect()

    # The next session has the new version.
    communicator = proxy_socket("/v1/realtime?agent=concierge")
    await communicator.connect()
    updated = await until(communicator, "session.updated")
    assert updated["session"]["instructions"] == "Speak like a butler."
    await communicator.disconnect()
    versions = [
        session.agent_revision.version
        async for session in RealtimeSession.objects.filter(agent=concierge)
        .select_related("agent_revision")
        .order_by("id")
    ]
    assert versions == [1, 2]


async def test_the_proxy_refuses_an_unknown_agent_with_an_error_event_and_a_close():
    communicator = proxy_socket("/v1/realtime?agent=nobody")
    await communicator.connect()
    refused = await until(communicator, "error")
    assert refused["error"]["code"] == "unknown_agent"
    closed = await communicator.receive_output(timeout=10)
    assert closed == {
        "type": "websocket.close",
        "code": 4404,
        "reason": "invalid_request_error.unknown_agent",
    }


# --- the page and the command ----------------------------------------------------------------


def test_the_page_talks_to_the_chosen_agent_and_offers_the_others(client, concierge):
    Agent.objects.create(name="Librarian", slug="librarian", instructions="Whisper.")
    page = client.get("/agents/concierge/")
    assert page.status_code == 200
    config = page.context["page_config"]
    assert config["agent"] == "concierge"
    assert config["handshakePath"].endswith("?agent=concierge")
    assert config["websocketPath"].endswith("?agent=concierge")
    html = page.content.decode()
    assert 'href="/agents/librarian/"' in html
    assert 'href="/agents/concierge/" aria-current="page"' in html
    assert "Concierge" in html
    assert client.get("/agents/nobody/").status_code == 404


def test_mint_secret_mints_for_an_agent(concierge):
    out = StringIO()
    call_command("mint_secret", "--agent", "concierge", "--json", stdout=out)
    answer = json.loads(out.getvalue())
    assert answer["session"]["instructions"] == CONCIERGE["instructions"]
    with pytest.raises(CommandError, match="nobody"):
        call_command("mint_secret", "--agent", "nobody", stdout=StringIO())
