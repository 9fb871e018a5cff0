"""What the service accepts, as data, and the errors it answers otherwise.

The allow-lists follow the official ``openai`` package's request types (3.54,
``openai/types/realtime/*_param.py``): the SDK's models accept unknown fields, but the service
does not, so the emulator needs its own list to answer ``unknown_parameter`` as it does. The
walker in :mod:`realtime.emulator.spec` checks a value against them.
"""

from __future__ import annotations

from typing import Any

from realtime.emulator.errors import ApiError, missing_parameter, unknown_parameter
from realtime.emulator.spec import (
    Anything,
    Arr,
    Bool,
    Either,
    Int,
    Num,
    Obj,
    Str,
    Tagged,
    check,
    invalid_type,
    invalid_value,
    join_path,
    json_type,
    obj,
)

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
)
# Each client event's own fields: (required, optional).
CLIENT_EVENT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "session.update": (("session",), ()),
    "input_audio_buffer.append": (("audio",), ()),
    "input_audio_buffer.commit": ((), ()),
    "input_audio_buffer.clear": ((), ()),
    "output_audio_buffer.clear": ((), ()),
    "conversation.item.create": (("item",), ("previous_item_id",)),
    "conversation.item.retrieve": (("item_id",), ()),
    "conversation.item.truncate": (("item_id", "content_index", "audio_end_ms"), ()),
    "conversation.item.delete": (("item_id",), ()),
    "response.create": ((), ("response",)),
    "response.cancel": ((), ("response_id",)),
}

# --- the shapes ---------------------------------------------------------------------------

FORMAT = Tagged(
    variants={
        "audio/pcm": obj(type=Str(), rate=Int(minimum=24000, maximum=24000)),
        "audio/pcmu": obj(type=Str()),
        "audio/pcma": obj(type=Str()),
    }
)
TRANSCRIPTION = obj(
    nullable=True,
    model=Str(),
    language=Str(),
    languages=Arr(Str()),
    prompt=Str(),
    keywords=Arr(Str()),
    delay=Str(choices=("minimal", "low", "medium", "high", "xhigh")),
)
NOISE_REDUCTION = obj(
    nullable=True, type=Str(choices=("near_field", "far_field")), strength=Num(minimum=0, maximum=1)
)
SERVER_VAD = obj(
    ("type",),
    type=Str(),
    threshold=Num(minimum=0, maximum=1),
    prefix_padding_ms=Int(minimum=0),
    silence_duration_ms=Int(minimum=0),
    idle_timeout_ms=Int(minimum=5000, maximum=30000, nullable=True),
    create_response=Bool(),
    interrupt_response=Bool(),
)
SEMANTIC_VAD = obj(
    ("type",),
    type=Str(),
    eagerness=Str(choices=("low", "medium", "high", "auto")),
    create_response=Bool(),
    interrupt_response=Bool(),
)
TURN_DETECTION = Tagged(
    variants={"server_vad": SERVER_VAD, "semantic_vad": SEMANTIC_VAD}, nullable=True
)
VOICE = Either(options=(Str(choices=VOICES), obj(("id",), id=Str())))
AUDIO_INPUT = obj(
    format=FORMAT,
    transcription=TRANSCRIPTION,
    noise_reduction=NOISE_REDUCTION,
    turn_detection=TURN_DETECTION,
)
AUDIO_OUTPUT = obj(format=FORMAT, voice=VOICE, speed=Num(minimum=0.25, maximum=1.5))
FUNCTION_TOOL = obj(("name",), type=Str(), name=Str(), description=Str(), parameters=Anything())
MCP_TOOL = obj(
    ("server_label",),
    type=Str(),
    server_label=Str(),
    server_url=Str(),
    server_description=Str(),
    connector_id=Str(),
    authorization=Str(),
    headers=Obj(values=Str(), nullable=True),
    allowed_tools=Anything(nullable=True),
    allowed_callers=Arr(Str(choices=("direct", "programmatic")), nullable=True),
    require_approval=Anything(nullable=True),
    defer_loading=Bool(),
    tunnel_id=Str(),
)
TOOLS = Arr(Tagged(variants={"function": FUNCTION_TOOL, "mcp": MCP_TOOL}, default="function"))
TOOL_CHOICE = Either(
    options=(
        Str(choices=("none", "auto", "required")),
        Tagged(
            variants={
                "function": obj(("name",), type=Str(), name=Str()),
                "mcp": obj(
                    ("server_label",), type=Str(), server_label=Str(), name=Str(nullable=True)
                ),
            }
        ),
    )
)
MAX_OUTPUT_TOKENS = Either(options=(Int(minimum=1, maximum=4096), Str(choices=("inf",))))
TRACING = Either(
    options=(
        Str(choices=("auto",)),
        obj(workflow_name=Str(), group_id=Str(), metadata=Anything()),
    ),
    nullable=True,
)
TRUNCATION = Either(
    options=(
        Str(choices=("auto", "disabled")),
        Tagged(
            variants={
                "retention_ratio": obj(
                    ("type", "retention_ratio"),
                    type=Str(),
                    retention_ratio=Num(minimum=0, maximum=1),
                    token_limits=obj(post_instructions=Int(minimum=0)),
                )
            }
        ),
    )
)
PROMPT = obj(
    ("id",),
    nullable=True,
    id=Str(),
    version=Str(nullable=True),
    variables=Obj(values=Anything(), nullable=True),
)
INCLUDE = Arr(Str(choices=("item.input_audio_transcription.logprobs",)), nullable=True)
MODALITIES = Arr(Str(choices=("text", "audio")))
REALTIME_SESSION = obj(
    ("type",),
    type=Str(),
    model=Str(),
    instructions=Str(),
    output_modalities=MODALITIES,
    audio=obj(input=AUDIO_INPUT, output=AUDIO_OUTPUT),
    include=INCLUDE,
    max_output_tokens=MAX_OUTPUT_TOKENS,
    prompt=PROMPT,
    tool_choice=TOOL_CHOICE,
    tools=TOOLS,
    tracing=TRACING,
    truncation=TRUNCATION,
    reasoning=obj(effort=Str(choices=("minimal", "low", "medium", "high"))),
    parallel_tool_calls=Bool(),
)
TRANSCRIPTION_SESSION = obj(("type",), type=Str(), audio=obj(input=AUDIO_INPUT), include=INCLUDE)
SESSIONS = {"realtime": REALTIME_SESSION, "transcription": TRANSCRIPTION_SESSION}
EXPIRES_AFTER = obj(
    ("anchor",), anchor=Str(choices=("created_at",)), seconds=Int(minimum=10, maximum=7200)
)
# Accepted, ignored and not echoed, as observed on the service (not in the GA schema).
IGNORED_SESSION_FIELDS = frozenset({"temperature"})

CONTENT = {
    "input_text": obj(("text",), type=Str(), text=Str()),
    "input_audio": obj(type=Str(), audio=Str(), transcript=Str(nullable=True)),
    "input_image": obj(
        ("image_url",), type=Str(), image_url=Str(), detail=Str(choices=("auto", "low", "high"))
    ),
    "output_text": obj(type=Str(), text=Str()),
    "output_audio": obj(type=Str(), audio=Str(), transcript=Str(nullable=True)),
}
CONTENT_BY_ROLE = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}
ITEM_COMMON = {
    "id": Str(),
    "object": Str(choices=("realtime.item",)),
    "status": Str(choices=("completed", "incomplete", "in_progress")),
}
ITEM = Tagged(
    variants={
        "message": obj(
            ("role", "content"),
            type=Str(),
            role=Str(choices=("user", "system", "assistant")),
            content=Arr(Anything()),
            **ITEM_COMMON,
        ),
        "function_call": obj(
            ("name", "arguments"),
            type=Str(),
            call_id=Str(),
            name=Str(),
            arguments=Str(),
            **ITEM_COMMON,
        ),
        "function_call_output": obj(
            ("call_id", "output"), type=Str(), call_id=Str(), output=Str(), **ITEM_COMMON
        ),
    }
)
RESPONSE = obj(
    output_modalities=MODALITIES,
    instructions=Str(),
    tools=TOOLS,
    tool_choice=TOOL_CHOICE,
    conversation=Str(),
    input=Arr(Anything()),
    metadata=Obj(values=Str(), nullable=True),
    audio=obj(output=obj(voice=VOICE, format=FORMAT)),
    max_output_tokens=MAX_OUTPUT_TOKENS,
    prompt=PROMPT,
    reasoning=obj(effort=Str(choices=("minimal", "low", "medium", "high"))),
    parallel_tool_calls=Bool(),
)

# --- checking requests --------------------------------------------------------------------


def validate_session_request(
    session: Any, *, prefix: str = "session", types: tuple[str, ...] = ("realtime", "transcription")
) -> dict:
    """Check a complete session create request; return it unchanged when valid."""
    if not isinstance(session, dict):
        raise invalid_type(prefix, Obj(), session)
    kind = session.get("type")
    if kind is None:
        raise missing_parameter(join_path(prefix, "type"))
    if kind not in types:
        raise invalid_value(join_path(prefix, "type"), kind, types)
    visible = {key: value for key, value in session.items() if key not in IGNORED_SESSION_FIELDS}
    check(SESSIONS[kind], visible, prefix)
    _check_modalities(session.get("output_modalities"), join_path(prefix, "output_modalities"))
    return session


def _check_modalities(modalities: Any, path: str) -> None:
    if modalities is not None and sorted(modalities) not in (["audio"], ["text"]):
        raise ApiError(
            f"Invalid '{path}': expected ['audio'] or ['text']; one output modality at a time.",
            code="invalid_value",
            param=path,
        )


def validate_client_secret_request(body: Any) -> tuple[int, dict[str, Any]]:
    """Check a ``POST /v1/realtime/client_secrets`` body; return (ttl seconds, session request)."""
    if not isinstance(body, dict):
        raise ApiError(
            f"Invalid type for body: expected an object, but got {json_type(body)} instead.",
            code="invalid_type",
        )
    for key in body:
        if key not in {"expires_after", "session"}:
            raise unknown_parameter(key)
    expires_after = body.get("expires_after", {"anchor": "created_at"})
    check(EXPIRES_AFTER, expires_after, "expires_after")
    ttl = expires_after.get("seconds", 600)
    session = body.get("session", {"type": "realtime"})
    return ttl, validate_session_request(session)


def validate_response_create(response: Any) -> dict[str, Any]:
    if response is None:
        return {}
    check(RESPONSE, response, "response")
    _check_modalities(response.get("output_modalities"), "response.output_modalities")
    for index, item in enumerate(response.get("input") or []):
        if isinstance(item, dict) and item.get("type") == "item_reference":
            check(obj(("id",), type=Str(), id=Str()), item, f"response.input[{index}]")
        else:
            validate_item(item, prefix=f"response.input[{index}]")
    return response


def validate_item(item: Any, *, prefix: str = "item") -> dict[str, Any]:
    check(ITEM, item, prefix)
    if item["type"] == "message":
        allowed = CONTENT_BY_ROLE[item["role"]]
        for index, part in enumerate(item["content"]):
            where = f"{prefix}.content[{index}]"
            if not isinstance(part, dict):
                raise invalid_type(where, Obj(), part)
            if part.get("type") not in allowed:
                raise invalid_value(f"{where}.type", part.get("type"), allowed)
            check(CONTENT[part["type"]], part, where)
    return item


def validate_client_event(event: Any) -> dict[str, Any]:
    """Check the envelope of a client event: its type and its own top-level fields."""
    if not isinstance(event, dict) or "type" not in event:
        raise ApiError("The 'type' field is missing.", code="invalid_event")
    kind = event["type"]
    if kind not in CLIENT_EVENT_FIELDS:
        raise invalid_value("type", kind, CLIENT_EVENT_TYPES)
    check_event_fields(event, *CLIENT_EVENT_FIELDS[kind])
    return event


def check_event_fields(
    event: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    """Refuse a field the event's type does not take, then a required one missing."""
    for key in event:
        if key not in {"type", "event_id", *required, *optional}:
            raise unknown_parameter(key)
    for key in required:
        if key not in event:
            raise missing_parameter(key)
