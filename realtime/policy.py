"""What a client may send through the WebSocket proxy, and what of it reaches OpenAI.

Each client frame is parsed once (orjson) and judged, and what goes upstream is always our
own encoding of the event we judged, never the client's text: no other JSON parser can
read something else from it. A duplicate key keeps its last value (and is written once),
escapes are written one way, and what orjson refuses is refused here: a lone surrogate, a
number past a double's range, nesting deeper than it writes (254 levels).

With ``REALTIME_LOCK_SESSION`` the server's instructions, tools and model hold for the
whole session, by every route the realtime protocol has: ``session.update``, per-response
overrides and inputs of ``response.create``, and system messages added as conversation
items. The lock is an allow-list: the fields each event may carry, down to the objects
where instructions could hide. Anything not listed, including fields OpenAI adds later, is
refused with ``session_locked`` until it is reviewed and listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from realtime.agents import Profile
from realtime.conf import RealtimeSettings


class EventRefused(Exception):
    """The client's frame is answered with an ``error`` event and not forwarded."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        client_event_id: str | None = None,
        param: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.client_event_id = client_event_id
        self.param = param
        super().__init__(message)


@dataclass(frozen=True)
class ClientEvent:
    type: str
    forward: str  # the text to send upstream: our encoding of the judged event
    body: dict[str, Any]  # the judged event, parsed


def frame_size(text: str) -> int:
    """UTF-8 size of a text frame; O(1) for the ASCII frames audio streams are made of."""
    # A lone surrogate counts as its three bytes: no server decodes one from a frame, but
    # an ASGI application may be handed any str.
    return len(text) if text.isascii() else len(text.encode(errors="surrogatepass"))


def read_client_event(
    text: str, conf: RealtimeSettings, model: str, profile: Profile | None = None
) -> ClientEvent:
    """Parse one client frame and apply policy; raise ``EventRefused`` to answer instead.

    ``profile`` is the session's configuration (the settings' when None): what the lock
    keeps."""
    event, client_event_id, event_type = parse_client_event(text)
    if event_type not in conf.proxy_client_events:
        raise EventRefused(
            "event_not_allowed",
            f"Client events of type '{event_type[:100]}' are not accepted by this server.",
            client_event_id=client_event_id,
            param="type",
        )
    if conf.lock_session:
        fields = EVENT_FIELDS[event_type]
        # Audio appends, 50 a second, hold only fields any value of which is allowed.
        if any(fields.get(name, _UNLISTED) is not ANY for name in event):
            profile = profile or Profile.from_settings(conf)
            Lock(event_type, client_event_id, profile, model).check_object(event, fields, "")
    return ClientEvent(event_type, encoded(event, client_event_id), event)


def parse_client_event(text: str) -> tuple[dict[str, Any], str | None, str]:
    """Parse one client frame (any protocol's): the event, its ``event_id`` (None unless a
    string) and its type; raise ``EventRefused`` for a frame that is no event."""
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise EventRefused(
            "invalid_json", f"Invalid event: failed to parse JSON value. {error}."
        ) from None
    if not isinstance(event, dict):
        raise EventRefused("invalid_event", "Invalid event: expected a JSON object.")
    client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise EventRefused(
            "invalid_event",
            "The 'type' field is missing.",
            client_event_id=client_event_id,
            param="type",
        )
    return event, client_event_id, event_type


def encoded(event: dict[str, Any], client_event_id: str | None = None) -> str:
    """The text that goes upstream: our encoding of the event judged."""
    try:
        return orjson.dumps(event).decode()
    except orjson.JSONEncodeError:  # orjson reads 1024 levels deep but writes only 254
        raise EventRefused(
            "invalid_json",
            "Invalid event: nested more than 254 levels deep.",
            client_event_id=client_event_id,
        ) from None


def policy_update(conf: RealtimeSettings, profile: Profile | None = None) -> str:
    """The ``session.update`` the proxy sends first: the server's (or the session's
    agent's) instructions, voice and tools (the model is fixed by the connection's URL)."""
    session = (profile or Profile.from_settings(conf)).session_config()
    del session["model"]
    session.setdefault("tools", [])
    return orjson.dumps(
        {"type": "session.update", "event_id": "event_proxy_policy", "session": session}
    ).decode()


# --- the lock's allow-list ----------------------------------------------------------------
# A field's rule: ANY value; a dict of the fields an object may hold; ``OneOf`` the values
# listed; ``Fixed``, the server's own value only (restating it is allowed); ``Items``, a
# list of conversation items. ``type`` and ``event_id`` are every event's own.

ANY = None
_UNLISTED = object()


@dataclass(frozen=True)
class OneOf:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Fixed:
    name: str  # "instructions", "tools" or "model"


@dataclass(frozen=True)
class Items:
    """One conversation item, or with ``listed`` a list of them (``response.input``, where an
    ``item_reference`` may stand for an item already in the conversation)."""

    listed: bool


ITEM_META = {"id": ANY, "object": ANY, "status": ANY}
# The items a client may add: no system messages (they instruct the model like the
# instructions do), no MCP items (the server configures no MCP tools).
ITEM_FIELDS: dict[str, dict[str, Any]] = {
    "message": {
        **ITEM_META,
        "type": ANY,
        "role": OneOf(("user", "assistant")),
        "content": ANY,
    },
    "function_call": {**ITEM_META, "type": ANY, "name": ANY, "arguments": ANY, "call_id": ANY},
    "function_call_output": {**ITEM_META, "type": ANY, "call_id": ANY, "output": ANY},
}
REFERENCE_FIELDS = {"type": ANY, "id": ANY}
AUDIO_OUTPUT_FIELDS = {"format": ANY, "voice": ANY, "speed": ANY}
SESSION_FIELDS = {
    "type": OneOf(("realtime",)),
    "instructions": Fixed("instructions"),
    "tools": Fixed("tools"),
    "model": Fixed("model"),
    "audio": {
        "input": {
            "format": ANY,
            "noise_reduction": ANY,
            "transcription": ANY,
            "turn_detection": ANY,
        },
        "output": AUDIO_OUTPUT_FIELDS,
    },
    "include": ANY,
    "max_output_tokens": ANY,
    "output_modalities": ANY,
    "parallel_tool_calls": ANY,
    "reasoning": ANY,
    "tool_choice": ANY,
    # Traces go to the server's OpenAI organisation: a client may turn them off, not on.
    "tracing": OneOf((None,)),
    "truncation": ANY,
}
RESPONSE_FIELDS = {
    "instructions": Fixed("instructions"),
    "tools": Fixed("tools"),
    "input": Items(listed=True),
    "audio": {"output": {"format": ANY, "voice": ANY}},
    "conversation": ANY,
    "max_output_tokens": ANY,
    "metadata": ANY,
    "output_modalities": ANY,
    "parallel_tool_calls": ANY,
    "reasoning": ANY,
    "tool_choice": ANY,
}
EVENT_META = {"type": ANY, "event_id": ANY}
EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "session.update": {**EVENT_META, "session": SESSION_FIELDS},
    "input_audio_buffer.append": {**EVENT_META, "audio": ANY},
    "input_audio_buffer.commit": EVENT_META,
    "input_audio_buffer.clear": EVENT_META,
    "output_audio_buffer.clear": EVENT_META,
    "conversation.item.create": {
        **EVENT_META,
        "item": Items(listed=False),
        "previous_item_id": ANY,
    },
    "conversation.item.retrieve": {**EVENT_META, "item_id": ANY},
    "conversation.item.truncate": {
        **EVENT_META,
        "item_id": ANY,
        "content_index": ANY,
        "audio_end_ms": ANY,
    },
    "conversation.item.delete": {**EVENT_META, "item_id": ANY},
    "response.create": {**EVENT_META, "response": RESPONSE_FIELDS},
    "response.cancel": {**EVENT_META, "response_id": ANY},
}


@dataclass(frozen=True)
class Lock:
    """Judge one event of a locked session against the allow-list."""

    event_type: str
    client_event_id: str | None
    profile: Profile
    model: str

    def fixed(self, name: str) -> Any:
        """The server's own value of ``name``, which a client may restate."""
        if name == "model":
            return self.model
        if name == "tools":
            return self.profile.tools()
        return self.profile.instructions

    def check(self, value: Any, rule: Any, path: str) -> None:
        if rule is ANY:
            return
        if isinstance(rule, Fixed):
            if value != self.fixed(rule.name):
                raise self.refuse(f"change the session's {rule.name}", path)
        elif isinstance(rule, OneOf):
            if value not in rule.values:
                raise self.refuse(f"set {path} to {_shown(value)}", path)
        elif isinstance(rule, Items):
            if not rule.listed:
                self.check_item(value, path, references=False)
                return
            if not isinstance(value, list):
                raise self.invalid("must be a list", path)
            for index, item in enumerate(value):
                self.check_item(item, f"{path}[{index}]", references=True)
        else:
            self.check_object(value, rule, path)

    def check_object(self, value: Any, fields: dict[str, Any], path: str) -> None:
        if not isinstance(value, dict):
            raise self.invalid("must be an object", path)
        for name, inner in value.items():
            inner_path = f"{path}.{name}" if path else name
            if name not in fields:
                raise self.refuse(f"send {inner_path}", inner_path)
            self.check(inner, fields[name], inner_path)

    def check_item(self, item: Any, path: str, references: bool) -> None:
        if not isinstance(item, dict):
            raise self.invalid("must be an object", path)
        kind = item.get("type")
        fields = ITEM_FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None and references and kind == "item_reference":
            fields = REFERENCE_FIELDS
        if fields is None:
            raise self.refuse(f"add an item of type {_shown(kind)}", f"{path}.type")
        self.check_object(item, fields, path)

    def refuse(self, what: str, param: str) -> EventRefused:
        return EventRefused(
            "session_locked",
            f"This server locks the session's instructions, tools and model: "
            f"{self.event_type} may not {what}.",
            client_event_id=self.client_event_id,
            param=param or None,
        )

    def invalid(self, what: str, param: str) -> EventRefused:
        return EventRefused(
            "invalid_event",
            f"Invalid event: {param} {what}.",
            client_event_id=self.client_event_id,
            param=param,
        )


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else f"{text[:40]}…"
