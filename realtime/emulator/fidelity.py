"""The official SDK as the judge: every server event must validate against its types.

Enabled with ``--check-events`` (tests do); it needs the ``openai`` package, a test
dependency. An event that fails is still sent, and is kept for the control API's
``/_emulator/invalid-events`` so a test can fail on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

logger = logging.getLogger(__name__)


def event_checker(invalid_events: list[dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    from openai.types.realtime import RealtimeServerEvent
    from pydantic import Field, TypeAdapter, ValidationError

    server_event = TypeAdapter(Annotated[RealtimeServerEvent, Field(discriminator="type")])

    def check(event: dict[str, Any]) -> None:
        try:
            server_event.validate_python(event)
        except ValidationError as error:
            shown = {key: value for key, value in event.items() if key != "delta"}
            invalid_events.append({"event": shown, "error": str(error)})
            logger.error("emulator sent an event the SDK rejects: %s\n%s", shown, error)

    return check
