"""Which configuration a session uses: the settings' own, or an agent's from the admin.

A ``Profile`` is everything the server decides about a session (model, voice,
instructions, transcription, turn detection, tools) frozen when the session starts, so a
change in the admin applies to the next session and never to one under way. ``resolve``
picks the profile for a request: the active agent of a slug, else the default agent, else
the settings (``REALTIME_MODEL``, ``REALTIME_INSTRUCTIONS``, … and every server tool). The
mint, the unified handshake, the WebSocket proxy's policy and lock, and the sideband all
take their configuration from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from realtime import pricing, retirements
from realtime.agent_models import Agent, AgentRevision, TurnDetection
from realtime.conf import RealtimeSettings, get_settings
from realtime.db import database_round
from realtime.tools.registry import ServerTool, registered_tools

# The Responses model a Live session delegates tool work to, unless its agent names one.
DELEGATION_MODEL = "gpt-5-mini"


class UnknownAgent(Exception):
    """No active agent has the slug a request named."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"No active agent is named {slug!r}.")


@dataclass(frozen=True)
class Profile:
    model: str
    voice: str
    instructions: str
    transcription_model: str  # empty: no input transcription
    turn_detection: dict[str, Any] | None  # None: OpenAI's default (server VAD)
    declared_tools: tuple[dict[str, Any], ...]  # REALTIME_TOOLS, which clients run
    server_tool_names: tuple[str, ...] | None  # None: every registered server tool
    agent_id: int | None = None
    agent_slug: str = ""
    revision_id: int | None = None
    # GPT-Live's side (realtime.conf's REALTIME_LIVE_MODEL; the agent's Live fields).
    api: str = "realtime"  # the API the page starts on
    live_model: str = "gpt-live-1.1"
    delegation: str = "responses"  # who does a Live session's tool work: responses or client
    delegation_model: str = DELEGATION_MODEL

    @classmethod
    def from_settings(cls, conf: RealtimeSettings) -> Profile:
        return cls(
            model=conf.model,
            voice=conf.voice,
            instructions=conf.instructions,
            transcription_model=conf.transcription_model,
            turn_detection=None,
            declared_tools=conf.tools,
            server_tool_names=None,
            live_model=conf.live_model,
        )

    @classmethod
    def of_agent(cls, agent: Agent, conf: RealtimeSettings, revision_id: int | None) -> Profile:
        transcription = ""
        if agent.transcription:
            transcription = agent.transcription_model or conf.transcription_model
        turn_detection: dict[str, Any] = {"type": agent.turn_detection}
        if agent.turn_detection == TurnDetection.SEMANTIC_VAD:
            turn_detection["eagerness"] = agent.eagerness
        return cls(
            model=agent.model or conf.model,
            voice=agent.voice,
            instructions=agent.instructions,
            transcription_model=transcription,
            turn_detection=turn_detection,
            declared_tools=conf.tools,
            server_tool_names=tuple(agent.server_tools),
            agent_id=agent.pk,
            agent_slug=agent.slug,
            revision_id=revision_id,
            api=agent.api,
            live_model=agent.live_model or conf.live_model,
            delegation=agent.delegation,
            delegation_model=agent.delegation_model or DELEGATION_MODEL,
        )

    def server_tools(self) -> dict[str, ServerTool]:
        """The server tools this session may call, by name."""
        return _registered_among(self.server_tool_names)

    def tools(self) -> list[dict[str, Any]]:
        """Every tool the session declares: the clients' and the server's own."""
        declared = [dict(tool) for tool in self.declared_tools]
        return declared + [tool.definition() for tool in self.server_tools().values()]

    def session_config(self) -> dict[str, Any]:
        """The GA session object this server asks for (mint body and unified calls)."""
        audio_input: dict[str, Any] = {}
        if self.transcription_model:
            audio_input["transcription"] = {"model": self.transcription_model}
        if self.turn_detection is not None:
            audio_input["turn_detection"] = dict(self.turn_detection)
        session: dict[str, Any] = {
            "type": "realtime",
            "model": self.model,
            "instructions": self.instructions,
            "audio": {"output": {"voice": self.voice}},
        }
        if audio_input:
            session["audio"] = {"input": audio_input, **session["audio"]}
        if tools := self.tools():
            session["tools"] = tools
        return session

    def live_session_config(self, *, webrtc: bool) -> dict[str, Any]:
        """The GPT-Live session object this server asks for: its ``session.start`` on a
        WebSocket (the client adds the audio format), or the body's ``session`` of a WebRTC
        create.

        Live has no tools of its own: under ``responses`` delegation the session's function
        tools (the clients' and the server's) go to the Responses backend, which calls them;
        under ``client`` delegation the application answers each delegated task.
        """
        session: dict[str, Any] = {
            "model": self.live_model,
            "instructions": self.instructions,
            "audio": {"output": {"voice": self.voice}},
        }
        if self.delegation == "client":
            session["delegation"] = {"type": "client"}
        else:
            backend: dict[str, Any] = {"model": self.delegation_model}
            if tools := self.tools():
                backend["tools"] = [_backend_tool(tool) for tool in tools]
            session["delegation"] = {"type": "responses", "responses": backend}
        return session


def _backend_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A Realtime function tool as the Responses backend of a Live session takes it."""
    return {key: tool[key] for key in ("type", "name", "description", "parameters") if key in tool}


def resolve_sync(slug: str | None) -> Profile:
    """The profile for a session that names ``slug`` (or none); raise ``UnknownAgent``."""
    conf = get_settings()
    active = Agent.objects.filter(is_active=True)
    agent = active.filter(slug=slug).first() if slug else active.filter(is_default=True).first()
    if agent is None:
        if slug:
            raise UnknownAgent(slug)
        return Profile.from_settings(conf)
    revision = (
        AgentRevision.objects.filter(agent=agent, version=agent.version)
        .values_list("pk", flat=True)
        .first()
    )
    return Profile.of_agent(agent, conf, revision)


resolve = database_round(resolve_sync)


async def server_tools_of_session(session_id: int) -> dict[str, ServerTool]:
    """The server tools the session's agent (as its revision was) may call; every
    registered one for a session of the settings. No query when the server has none."""
    if not registered_tools():
        return {}
    revision = await _revision_configuration(session_id)
    names = revision.get("server_tools", []) if isinstance(revision, dict) else None
    return _registered_among(names)


@database_round
def _revision_configuration(session_id: int) -> Any:
    from realtime.models import RealtimeSession

    return (
        RealtimeSession.objects.filter(pk=session_id)
        .values_list("agent_revision__configuration", flat=True)
        .first()
    )


def _registered_among(names: Iterable[str] | None) -> dict[str, ServerTool]:
    """The registered server tools ``names`` lists (all of them for None), by name."""
    registered = registered_tools()
    if names is None:
        return registered
    return {name: registered[name] for name in names if name in registered}


def configuration_problems(agent: Agent) -> dict[str, str]:
    """Why an agent's configuration cannot be used, by field (the admin form shows them).

    The allow-list serves both APIs (``RealtimeSettings.model_for``): the Realtime model
    takes REALTIME_MODEL or a Realtime model it names, the GPT-Live model REALTIME_LIVE_MODEL
    or a Live model it names, as each API refuses the other's models."""
    conf = get_settings()
    problems = {}
    if agent.model and pricing.is_live_model(agent.model):
        problems["model"] = (
            f"{agent.model} is a GPT-Live model, which the Realtime API refuses: name it as "
            "the GPT-Live model instead."
        )
    elif agent.model and agent.model not in {conf.model, *conf.allowed_models}:
        problems["model"] = (
            f"{agent.model} is not allowed here: use REALTIME_MODEL ({conf.model}) or add it "
            "to REALTIME_ALLOWED_MODELS."
        )
    if agent.live_model and not pricing.is_live_model(agent.live_model):
        problems["live_model"] = (
            f"{agent.live_model} is not a GPT-Live model (gpt-live-…): a Realtime model goes "
            "in the model field."
        )
    elif agent.live_model and agent.live_model not in {conf.live_model, *conf.allowed_models}:
        problems["live_model"] = (
            f"{agent.live_model} is not allowed here: use REALTIME_LIVE_MODEL "
            f"({conf.live_model}) or add it to REALTIME_ALLOWED_MODELS."
        )
    for field in ("model", "live_model", "transcription_model"):
        notice = retirements.notice_for(getattr(agent, field)) if getattr(agent, field) else None
        if notice is not None and notice.shut_down and field not in problems:
            problems[field] = str(notice)
    if agent.api == "live" and not conf.live:
        problems["api"] = (
            "GPT-Live is off here (REALTIME_LIVE = False): start on the Realtime API, or turn "
            "REALTIME_LIVE on."
        )
    unknown = sorted(set(agent.server_tools) - set(registered_tools()))
    if unknown:
        problems["server_tools"] = f"Not among REALTIME_SERVER_TOOLS: {', '.join(unknown)}."
    return problems
