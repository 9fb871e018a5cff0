"""What a client may send through the GPT-Live proxy, and what of it reaches OpenAI.

As for Realtime (``realtime.policy``, whose parsing and encoding this shares), each frame is
parsed once and what goes upstream is our own encoding of the event judged. GPT-Live has
its own moments:

- ``session.start`` comes first, and once. The session it starts is the server's: the
  profile's ``live_session_config`` with the model this connection chose (``?model=``,
  among the allowed Live models). The client adds its audio format and its safety
  identifier, and nothing else.
  Unlocked (``REALTIME_LOCK_SESSION`` off), its instructions, voice, input and delegation
  replace the profile's, and it may name another allowed Live model.
- Locked, the server's instructions hold by every route Live has. A ``session.start``
  that changes them (or the model, voice, input or delegation) is refused; a
  ``session.update`` may change only the triggers. Developer instructions a client appends
  (``session.instructions.append``) reach the model as what the user typed; thinking and
  commentary only answer a delegation (with no ``delegation_id`` they would be general
  context, as instructions are); and no system or developer message reaches the Responses
  backend or the Decision API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from realtime.agents import Profile
from realtime.conf import RealtimeSettings
from realtime.policy import ClientEvent, EventRefused, encoded, parse_client_event

# The members of openai.types.live.client_event.ClientEvent: what a primary socket may send.
LIVE_CLIENT_EVENTS = (
    "session.start",
    "session.update",
    "session.input_audio.append",
    "session.input_audio.mute",
    "session.input_audio.unmute",
    "session.output_audio.fixture.play",
    "session.instructions.append",
    "session.thinking.append",
    "session.commentary.append",
    "decision.create",
    "decision.item.create",
    "decision.item.delete",
    "response.item.create",
    "response.create",
    "session.close",
)
# How the page sends what its user types; anything else appended is made to read so.
TYPED_PREFIX = "The user typed: "
# The parts of session.start the lock fixes (paths in the session object).
LOCKED_START_FIELDS = (
    ("model",),
    ("instructions",),
    ("delegation",),
    ("input",),
    ("audio", "output", "voice"),
)
# The parts of session.start that are the client's own, whatever the lock: its audio
# format, and the identifier OpenAI's safety systems know its user by (the REST relay's
# create takes it too, beside its WebRTC-only fields).
CLIENT_START_FIELDS = (("audio", "format"), ("safety_identifier",))
# Every part of session.start a client may send: the locked ones and its own.
START_FIELDS: dict[str, Any] = {
    "safety_identifier": None,
    "model": None,
    "instructions": None,
    "delegation": None,
    "input": None,
    "audio": {"format": None, "output": {"voice": None}},
}
CONTEXT_EVENTS = frozenset({"session.thinking.append", "session.commentary.append"})
ITEM_EVENTS = frozenset({"response.item.create", "decision.item.create"})
INSTRUCTING_ROLES = frozenset({"system", "developer"})


@dataclass
class LivePolicy:
    """Judge one Live connection's client frames, in order (the first must start it)."""

    conf: RealtimeSettings
    profile: Profile
    model: str  # the session's model; a started session's is the one it started with
    started: bool = False

    def read(self, text: str) -> ClientEvent:
        """Parse one client frame and apply policy; raise ``EventRefused`` to answer
        instead."""
        event, event_id, event_type = parse_client_event(text)
        refuse = Refusal(event_type, event_id)
        if event_type not in LIVE_CLIENT_EVENTS:
            raise refuse(
                "unknown_event",
                f"GPT-Live has no client event '{event_type[:100]}'; send one of: "
                f"{', '.join(LIVE_CLIENT_EVENTS)}.",
                "type",
            )
        if event_type == "session.start":
            if self.started:
                raise refuse(
                    "session_already_started",
                    "The session has already started: session.start is taken once, first.",
                    "type",
                )
            event = self._start(event, refuse)
        elif not self.started:
            raise refuse(
                "session_not_started",
                f"The first event must be session.start, not '{event_type}'.",
                "type",
            )
        elif self.conf.lock_session:
            event = self._locked(event, refuse)
        forward = encoded(event, event_id)
        if event_type == "session.start":
            self.started = True
            self.model = event["session"]["model"]
        return ClientEvent(event_type, forward, event)

    def _start(self, event: dict[str, Any], refuse: Refusal) -> dict[str, Any]:
        """The ``session.start`` to forward: the server's session, with the client's audio
        format and (unlocked) its own choices."""
        unexpected = set(event) - {"type", "event_id", "session"}
        if unexpected:
            raise refuse.unknown(min(unexpected))
        asked = event.get("session")
        _check_fields(asked, START_FIELDS, "session", refuse)
        session = self.profile.live_session_config(webrtc=False)
        session["model"] = self.model
        for path in LOCKED_START_FIELDS:
            value = _get(asked, path)
            if value is _ABSENT or value == _get(session, path, None):
                continue  # unsaid, or the server's own (restating it is allowed)
            param = ".".join(("session", *path))
            if self.conf.lock_session:
                raise refuse(
                    "session_locked",
                    f"This server fixes the session's {path[-1]}: session.start may not "
                    f"change {param}.",
                    param,
                )
            if path == ("model",) and not self._allowed(value):
                raise refuse(
                    "model_not_allowed", f"This server does not offer {str(value)[:100]}.", param
                )
            _put(session, path, value)
        for path in CLIENT_START_FIELDS:
            if (value := _get(asked, path)) is not _ABSENT:
                _put(session, path, value)
        started = {"type": "session.start", "session": session}
        if "event_id" in event:
            started["event_id"] = event["event_id"]
        return started

    def _allowed(self, model: Any) -> bool:
        """Whether a client may start a session of ``model``: the profile's Live model, or
        another in the allow-list."""
        return (
            isinstance(model, str) and self.conf.model_for(model, self.profile.live_model) == model
        )

    def _locked(self, event: dict[str, Any], refuse: Refusal) -> dict[str, Any]:
        """Apply the lock to an event of a started session; the event to forward."""
        event_type = event["type"]
        if event_type == "session.update":
            session = event.get("session")
            if not isinstance(session, dict):
                raise refuse(
                    "invalid_event", "Invalid event: session must be an object.", "session"
                )
            for name in session:
                if name != "triggers":
                    raise refuse(
                        "session_locked",
                        f"This server fixes the session: session.update may change only its "
                        f"triggers, not session.{name}.",
                        f"session.{name}",
                    )
        elif event_type == "session.instructions.append":
            content = event.get("content")
            if not isinstance(content, str):
                raise refuse("invalid_event", "Invalid event: content must be a string.", "content")
            return {**event, "content": typed_words(content)}
        elif event_type in CONTEXT_EVENTS:
            if not isinstance(event.get("delegation_id"), str):
                raise refuse(
                    "session_locked",
                    f"This server fixes the session's instructions: {event_type} must answer "
                    "a delegation (its delegation_id).",
                    "delegation_id",
                )
        elif event_type in ITEM_EVENTS:
            role = event["item"].get("role") if isinstance(event.get("item"), dict) else None
            if isinstance(role, str) and role in INSTRUCTING_ROLES:
                raise refuse(
                    "session_locked",
                    f"This server fixes the session's instructions: {event_type} may not add "
                    f"a {role} message.",
                    "item.role",
                )
        return event


def typed_words(content: str) -> str:
    """Return appended instructions as what the user typed: ``The user typed: "…"``, the
    words as one JSON string; content already of that form (the page's) is kept as it is."""
    return content if typed_text(content) is not None else TYPED_PREFIX + json.dumps(content)


def typed_text(content: Any) -> str | None:
    """The words of appended instructions of the typed form (``The user typed: "…"``), or
    None for any other content."""
    if not isinstance(content, str):
        return None
    literal = content.removeprefix(TYPED_PREFIX)
    if literal == content or literal[:1] != '"' or literal[-1:] != '"':
        return None
    try:
        words = orjson.loads(literal)
    except orjson.JSONDecodeError:
        return None
    return words if isinstance(words, str) else None


@dataclass(frozen=True)
class Refusal:
    """Make the ``EventRefused`` for one client event."""

    event_type: str
    event_id: str | None

    def __call__(self, code: str, message: str, param: str | None = None) -> EventRefused:
        return EventRefused(code, message, client_event_id=self.event_id, param=param)

    def unknown(self, param: str) -> EventRefused:
        """Refuse a parameter this server does not take from a client."""
        return self(
            "unknown_parameter", f"This server takes no {param} in {self.event_type}.", param
        )


_ABSENT = object()


def _check_fields(value: Any, fields: dict[str, Any], path: str, refuse: Refusal) -> None:
    """Refuse a part of ``value`` (an object) that ``fields`` does not list."""
    if not isinstance(value, dict):
        raise refuse("invalid_event", f"Invalid event: {path} must be an object.", path)
    for name, inner in value.items():
        inner_path = f"{path}.{name}"
        if name not in fields:
            raise refuse.unknown(inner_path)
        if fields[name] is not None:
            _check_fields(inner, fields[name], inner_path, refuse)


def _get(value: Any, path: tuple[str, ...], default: Any = _ABSENT) -> Any:
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return default
        value = value[name]
    return value


def _put(value: dict[str, Any], path: tuple[str, ...], item: Any) -> None:
    for name in path[:-1]:
        value = value.setdefault(name, {})
    value[path[-1]] = item
