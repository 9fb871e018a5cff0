"""An example server tool (README, "Give the assistant tools"): name it in the settings,
``REALTIME_SERVER_TOOLS=voiceproject.example_tools.current_time``, and ask the assistant
what time it is."""

from __future__ import annotations

import datetime
import zoneinfo

from realtime.tools import ToolContext


def current_time(timezone: str = "UTC", *, context: ToolContext) -> dict[str, str]:
    """Tell the current date and time in a time zone.

    ``timezone`` is an IANA name such as ``Europe/Paris``; an unknown one raises, and the
    model is told the error.
    """
    now = datetime.datetime.now(zoneinfo.ZoneInfo(timezone))
    user = context.user
    return {
        "time": now.strftime("%H:%M"),
        "date": now.date().isoformat(),
        "timezone": timezone,
        "asked_by": user.get_username() if user is not None else "a visitor",
    }
