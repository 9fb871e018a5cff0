"""Decide which models the emulated service runs in realtime mode, and which it defaults to."""

from __future__ import annotations

from datetime import date

from realtime import retirements
from realtime.emulator.errors import ApiError

# The model of a realtime session whose request names none, as the service reports it. Once
# OpenAI shuts it down the service cannot keep it: its replacement takes its place.
DEFAULT_MODEL = "gpt-realtime"


def default_model(today: date | None = None) -> str:
    """Return the model of a realtime session that names none, on ``today``."""
    notice = retirements.notice_for(DEFAULT_MODEL, today)
    return notice.replacement if notice is not None and notice.shut_down else DEFAULT_MODEL


def check_served(model: str, *, param: str = "model", today: date | None = None) -> None:
    """Raise the service's ``invalid_model`` unless it runs ``model`` in realtime mode today.

    It runs the realtime and audio models, except those OpenAI has shut down (the shared
    table in ``realtime.retirements``): from its shutdown date a model is refused as any
    model the service does not serve is.
    """
    notice = retirements.notice_for(model, today)
    retired = notice is not None and notice.shut_down
    if retired or not ("realtime" in model or model.startswith("gpt-audio")):
        raise ApiError(
            f'Model "{model}" is not supported in realtime mode.',
            code="invalid_model",
            param=param,
        )
