"""Say which client events each kind of Live connection may send, and check their envelopes.

The lists follow the official ``openai`` package (3.63): ``openai/types/live/client_event.py``
for a primary WebSocket, ``connect_client_event.py`` for a sideband, and the JS SDK's
``OpenAILiveWebRTC`` for a WebRTC data channel (the sideband's events, less fixtures and
DTMF). Unknown fields are refused with ``unknown_parameter``, as the service refuses them.
"""

from __future__ import annotations

from typing import Any

from realtime.emulator.errors import ApiError
from realtime.emulator.live.schema import ANY_OBJECT
from realtime.emulator.schema import check_event_fields
from realtime.emulator.spec import Arr, Either, Str, Tagged, check, invalid_type, invalid_value, obj

# Each client event's own fields: (required, optional). The appends must carry the
# delegation_id key (the SDK always sends it), though its value may be null.
CLIENT_EVENT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "session.start": (("session",), ()),
    "session.update": (("session",), ()),
    "session.input_audio.append": (("audio",), ()),
    "session.input_audio.mute": ((), ()),
    "session.input_audio.unmute": ((), ()),
    "session.output_audio.fixture.play": (("audio",), ()),
    "session.instructions.append": (("content", "delegation_id"), ()),
    "session.thinking.append": (("content", "delegation_id"), ()),
    "session.commentary.append": (("content", "delegation_id"), ()),
    "decision.create": (("event_id",), ()),
    "decision.item.create": (("item",), ()),
    "decision.item.delete": (("item_id",), ()),
    "response.item.create": (("item",), ()),
    "response.create": ((), ()),
    "session.close": ((), ()),
    "transport.dtmf.send": (("event",), ()),
}
WEBSOCKET_EVENTS = tuple(kind for kind in CLIENT_EVENT_FIELDS if kind != "transport.dtmf.send")
SIDEBAND_EVENTS = tuple(
    kind
    for kind in CLIENT_EVENT_FIELDS
    if kind not in {"session.start", "session.input_audio.append"}
)
DATA_CHANNEL_EVENTS = tuple(
    kind
    for kind in SIDEBAND_EVENTS
    if kind not in {"session.output_audio.fixture.play", "transport.dtmf.send"}
)
RESPONSE_ITEM = Tagged(
    default="message",
    variants={
        "message": obj(
            ("role", "content"),
            type=Str(),
            role=Str(choices=("user", "assistant", "system", "developer")),
            content=Either(options=(Str(), Arr(ANY_OBJECT))),
            id=Str(),
            status=Str(choices=("in_progress", "completed", "incomplete")),
        ),
        "function_call": obj(
            ("call_id", "name", "arguments"),
            type=Str(),
            call_id=Str(),
            name=Str(),
            arguments=Str(),
            id=Str(),
            status=Str(choices=("in_progress", "completed", "incomplete")),
        ),
        "function_call_output": obj(
            ("call_id", "output"),
            type=Str(),
            call_id=Str(),
            output=Either(options=(Str(), Arr(ANY_OBJECT))),
            id=Str(nullable=True),
            status=Str(choices=("in_progress", "completed", "incomplete"), nullable=True),
        ),
        "item_reference": obj(("id",), type=Str(), id=Str()),
    },
)


def validate_event(event: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Check a client event's envelope: a type this connection may send, its own fields."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ApiError("The 'type' field is missing.", code="invalid_event", param="type")
    kind = event["type"]
    if kind not in allowed:
        raise invalid_value("type", kind, allowed)
    check_event_fields(event, *CLIENT_EVENT_FIELDS[kind])
    if "event_id" in event and not isinstance(event["event_id"], str | None):
        raise invalid_type("event_id", Str(), event["event_id"])
    return event


def validate_response_item(item: Any) -> dict[str, Any]:
    """Check an item added to the Responses backend (the kinds the emulated backend reads)."""
    check(RESPONSE_ITEM, item, "item")
    return item
