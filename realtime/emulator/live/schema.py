"""Say which Live session configurations the service accepts, and refuse the rest in its words.

The allow-lists follow the official ``openai`` package's Live request types (3.63,
``openai/types/live/``: ``session_config.py`` for ``session.start``,
``media_session_config_param.py`` for a WebRTC create, ``session_update_config.py`` for
``session.update``). The SDK's models accept unknown fields; the service does not, so the
emulator keeps its own lists and answers ``unknown_parameter`` with the field's path, as for
the realtime API. The walker is the realtime emulator's (:mod:`realtime.emulator.spec`);
client events are checked in :mod:`~realtime.emulator.live.events`.
"""

from __future__ import annotations

from typing import Any

from realtime.emulator.errors import ApiError
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
    obj,
)

# openai/types/live/built_in_voice.py
VOICES = (
    "alloy", "ash", "ballad", "beacon", "bossa", "cedar", "cinder", "coral", "delta", "echo",
    "gleam", "marin", "meridian", "quartz", "ripple", "sage", "shida", "shimmer", "stone",
    "tempo", "verse", "vesper", "willow",
)  # fmt: skip
# The 13 tool types of responses_delegation_config.py; only function tools are checked
# field by field, since only they change what the emulated backend does.
TOOL_TYPES = (
    "function", "web_search", "file_search", "code_interpreter", "shell", "image_generation",
    "mcp", "custom", "namespace", "tool_search", "programmatic_tool_calling", "computer",
    "apply_patch",
)  # fmt: skip
TOOL_CHOICE_TYPES = (
    "function", "mcp", "file_search", "web_search", "web_search_preview", "image_generation",
    "computer", "code_interpreter", "programmatic_tool_calling", "shell", "custom",
    "apply_patch", "allowed_tools",
)  # fmt: skip
TRANSCRIPT_EVENTS = ("session.input_transcript.delta", "session.output_transcript.delta")
MAX_INPUT_MESSAGES = 128
ANY_OBJECT = Obj(values=Anything())  # a shape the emulator passes through unchecked

# --- the session ---------------------------------------------------------------------------

VOICE = Either(options=(Str(choices=VOICES), obj(("id",), id=Str())))
PCM_RATES = (16000, 24000)
AUDIO_FORMAT = Tagged(
    variants={
        "audio/pcm": obj(("type", "rate"), type=Str(), rate=Int(minimum=16000, maximum=24000)),
        "audio/pcmu": obj(("type", "rate"), type=Str(), rate=Int(minimum=8000, maximum=8000)),
        "audio/pcma": obj(("type", "rate"), type=Str(), rate=Int(minimum=8000, maximum=8000)),
    }
)
AUDIO_OUTPUT = obj(voice=VOICE)
FUNCTION_TOOL = obj(
    ("type", "name"),
    type=Str(),
    name=Str(),
    description=Str(nullable=True),
    parameters=Anything(nullable=True),
    strict=Bool(nullable=True),
)
TOOL = Tagged(
    variants={kind: FUNCTION_TOOL if kind == "function" else ANY_OBJECT for kind in TOOL_TYPES}
)
TOOL_CHOICE = Either(
    options=(
        Str(choices=("auto", "none", "required")),
        Tagged(
            variants={
                kind: obj(("type", "name"), type=Str(), name=Str())
                if kind == "function"
                else ANY_OBJECT
                for kind in TOOL_CHOICE_TYPES
            }
        ),
    ),
    nullable=True,
)
RESPONSES_FIELDS: dict[str, Any] = {
    "model": Str(),
    "instructions": Str(nullable=True),
    "max_output_tokens": Int(minimum=1, nullable=True),
    "parallel_tool_calls": Bool(nullable=True),
    "reasoning": obj(
        nullable=True,
        effort=Str(choices=("none", "minimal", "low", "medium", "high", "xhigh"), nullable=True),
        summary=Str(choices=("concise", "detailed", "auto"), nullable=True),
    ),
    "service_tier": Str(
        choices=("auto", "default", "fast_tier_temp_pilot", "flex", "priority", "ultrafast"),
        nullable=True,
    ),
    "text": obj(nullable=True, verbosity=Str(choices=("low", "medium", "high"), nullable=True)),
    "tool_choice": TOOL_CHOICE,
    "tools": Arr(TOOL, nullable=True),
}
DELAY = Int(minimum=0, nullable=True)
DECISIONS = obj(("model", "questions"), model=Str(), questions=Arr(ANY_OBJECT))


def _delegation(responses: Obj, decisions: Obj, *, complete: bool) -> Tagged:
    """Return the delegation shape: ``complete`` at startup, a partial one in an update."""
    return Tagged(
        nullable=True,
        variants={
            "client": obj(("type",), type=Str(), acknowledgement_delay_ms=DELAY),
            "responses": obj(
                ("type", "responses") if complete else ("type",),
                type=Str(),
                responses=responses,
                acknowledgement_delay_ms=DELAY,
            ),
            "decisions": obj(
                ("type", "decisions") if complete else ("type",),
                type=Str(),
                decisions=decisions,
                acknowledgement_delay_ms=DELAY,
            ),
        },
    )


DELEGATION = _delegation(
    Obj(fields=RESPONSES_FIELDS, required=("model",)), DECISIONS, complete=True
)
DELEGATION_UPDATE = _delegation(
    Obj(fields=RESPONSES_FIELDS, nullable=True),
    obj(nullable=True, model=Str(nullable=True), questions=Arr(ANY_OBJECT, nullable=True)),
    complete=False,
)
TRIGGER = obj(
    ("type", "event_type", "decisions"),
    type=Str(choices=("decisions",)),
    event_type=Str(choices=TRANSCRIPT_EVENTS),
    decisions=obj(("questions",), questions=Arr(ANY_OBJECT)),
)
INITIAL_ITEM = obj(
    ("role", "content"),
    role=Str(choices=("developer", "user", "assistant")),
    content=Arr(
        obj(("text",), text=Str(), type=Str(choices=("input_text", "text", "output_text")))
    ),
    id=Str(),
    status=Str(choices=("incomplete", "completed")),
    type=Str(choices=("message",)),
)
EVENT_SELECTOR = obj(("type",), type=Str(), response_event=Str(nullable=True))
CLIENT = obj(
    ("data_channel",),
    nullable=True,
    data_channel=obj(
        allowed_client_events=Either(options=(Str(choices=("all",)), Arr(Str())), nullable=True),
        allowed_server_events=Either(
            options=(Str(choices=("all",)), Arr(EVENT_SELECTOR)), nullable=True
        ),
    ),
)
COMMON_FIELDS: dict[str, Any] = {
    "model": Str(),
    "client": CLIENT,
    "delegation": DELEGATION,
    "input": Arr(INITIAL_ITEM, nullable=True),
    "instructions": Str(nullable=True),
    "safety_identifier": Str(nullable=True),
    "store": Bool(nullable=True),
    "triggers": Arr(TRIGGER, nullable=True),
}
# session.start on a primary WebSocket: the only place audio.format is accepted.
WEBSOCKET_SESSION = Obj(
    fields={**COMMON_FIELDS, "audio": obj(nullable=True, format=AUDIO_FORMAT, output=AUDIO_OUTPUT)},
    required=("model",),
)
# POST /v1/live/sessions: WebRTC negotiates its media, and may pause when idle.
WEBRTC_SESSION = Obj(
    fields={
        **COMMON_FIELDS,
        "audio": obj(output=AUDIO_OUTPUT),
        "idle_timeout_s": Int(minimum=1),
        "wake_policy": obj(
            ("type",), type=Str(choices=("speech",)), vad_threshold=Num(minimum=0, maximum=1)
        ),
    },
    required=("model",),
)
SESSION_UPDATE = obj(delegation=DELEGATION_UPDATE, triggers=Arr(TRIGGER, nullable=True))


def validate_session(session: Any, *, transport: str, prefix: str = "session") -> dict[str, Any]:
    """Check a session's startup configuration for ``transport`` ("websocket" or "webrtc")."""
    if not isinstance(session, dict):
        raise invalid_type(prefix, Obj(), session)
    audio = session.get("audio")
    if transport == "webrtc" and isinstance(audio, dict) and "format" in audio:
        raise ApiError(
            f"Unknown parameter: '{prefix}.audio.format'. WebRTC and SIP sessions negotiate "
            "their media format; audio.format is accepted only on a primary WebSocket.",
            code="unknown_parameter",
            param=f"{prefix}.audio.format",
        )
    check(WEBSOCKET_SESSION if transport == "websocket" else WEBRTC_SESSION, session, prefix)
    fmt = (audio or {}).get("format")
    if fmt and fmt["type"] == "audio/pcm" and fmt["rate"] not in PCM_RATES:
        raise ApiError(
            f"Invalid value: {fmt['rate']}. Supported values are: 16000 and 24000.",
            code="invalid_value",
            param=f"{prefix}.audio.format.rate",
        )
    _check_input(session.get("input") or [], f"{prefix}.input")
    _check_triggers(session.get("triggers") or [], f"{prefix}.triggers")
    return session


def validate_update(update: Any) -> dict[str, Any]:
    """Check a ``session.update``: only the delegation settings and triggers may change."""
    check(SESSION_UPDATE, update, "session")
    _check_triggers(update.get("triggers") or [], "session.triggers")
    return update


def _check_input(items: list[dict[str, Any]], path: str) -> None:
    if len(items) > MAX_INPUT_MESSAGES:
        raise ApiError(
            f"Invalid '{path}': array too long. Expected an array with maximum length "
            f"{MAX_INPUT_MESSAGES}, but got an array with length {len(items)} instead.",
            code="array_above_max_length",
            param=path,
        )
    for index, item in enumerate(items):
        if len(item["content"]) != 1:
            raise ApiError(
                f"Invalid '{path}[{index}].content': each message takes exactly one text part.",
                code="invalid_value",
                param=f"{path}[{index}].content",
            )


def _check_triggers(triggers: list[dict[str, Any]], path: str) -> None:
    kinds = [trigger["event_type"] for trigger in triggers]
    for kind in set(kinds):
        if kinds.count(kind) > 1:
            raise ApiError(
                f"Invalid '{path}': at most one trigger per transcript event type ('{kind}').",
                code="invalid_value",
                param=path,
            )
