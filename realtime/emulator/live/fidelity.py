"""Judge every Live server event strictly by the official SDK's types, as tests need.

The SDK itself never validates Live events (``parse_event`` constructs them unchecked), and
its models accept unknown fields, so validating against the plain union would pass almost
anything. Instead each event is judged by the member of its union whose ``type`` literal it
names (``ServerEvent`` on a primary socket, ``ConnectServerEvent`` on a sideband or data
channel), with ``TypeAdapter(member).validate_python(event, strict=True)``; any field the
models do not know, at any depth, fails it too. A ``response.event``'s nested event is judged
the same way against ``openai.types.responses.ResponseStreamEvent``.

Enabled with ``--check-events``; failures go to the same ``/_emulator/invalid-events`` list as
the realtime judge's (:mod:`realtime.emulator.fidelity`).
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger(__name__)


def members(union: Any) -> dict[str, type]:
    """Map each member of an ``Annotated[Union[…], …]`` event union by its ``type`` literal."""
    (inner, *_) = typing.get_args(union)
    return {
        typing.get_args(member.model_fields["type"].annotation)[0]: member
        for member in typing.get_args(inner)
    }


def extra_fields(value: Any, path: str = "") -> Iterator[str]:
    """Yield the path of every field a validated model did not declare, at any depth."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        for name in value.model_extra or {}:
            yield f"{path}.{name}" if path else name
        for name in type(value).model_fields:
            yield from extra_fields(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, element in enumerate(value):
            yield from extra_fields(element, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, element in value.items():
            yield from extra_fields(element, f"{path}.{key}")


def live_event_checker(
    invalid_events: list[dict[str, Any]],
) -> Callable[[dict[str, Any], str], None]:
    """Return a judge of ``(event, union)``, ``union`` being "server" or "connect"."""
    from openai.types.live.connect_server_event import ConnectServerEvent
    from openai.types.live.server_event import ServerEvent
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter, ValidationError

    unions = {"server": members(ServerEvent), "connect": members(ConnectServerEvent)}
    stream_events = members(ResponseStreamEvent)
    adapters: dict[type, TypeAdapter] = {}

    def problem(event: dict[str, Any], known: dict[str, type]) -> str | None:
        member = known.get(event.get("type"))
        if member is None:
            return f"no member of the union has type {event.get('type')!r}"
        adapter = adapters.setdefault(member, TypeAdapter(member))
        try:
            model = adapter.validate_python(event, strict=True)
        except ValidationError as error:
            return str(error)
        extras = list(extra_fields(model))
        if extras:
            return f"{member.__name__} has no field(s) {', '.join(extras)}"
        return None

    def check(event: dict[str, Any], union: str) -> None:
        found = problem(event, unions[union])
        if found is None and event.get("type") == "response.event":
            nested = problem(event["event"], stream_events)
            found = f"nested event: {nested}" if nested else None
        if found is not None:
            shown = {key: value for key, value in event.items() if key not in {"delta", "audio"}}
            invalid_events.append({"event": shown, "union": union, "error": found})
            logger.error("emulator sent a Live event the SDK rejects: %s\n%s", shown, found)

    return check
