"""Be one way into a Live session: its primary socket, its data channel or a sideband.

A connection is of one of three kinds:

- ``websocket``: the primary socket that started the session with ``session.start``;
- ``datachannel``: the ``oai-events`` channel of the WebRTC call a REST create answered;
- ``sideband``: a trusted server's ``…/{id}/attach`` socket (any number of them).

Each kind may send its own client events (:mod:`~realtime.emulator.live.events`) and hears
its own share of the server events: only sidebands hear reflected input audio, and a data
channel hears only what its session's ``client.data_channel`` allows. Events are judged
(with ``--check-events``) against the SDK's ``ServerEvent`` on the primary socket and
``ConnectServerEvent`` elsewhere, since the JS SDK types the Live data channel with it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from realtime.emulator import ids
from realtime.emulator.conversation import Output
from realtime.emulator.errors import ApiError
from realtime.emulator.live import events

if TYPE_CHECKING:
    from realtime.emulator.live.session import LiveSession
    from realtime.emulator.state import Emulator

# Events only a sideband hears: the reflection of the primary transport's input audio.
SIDEBAND_ONLY = {"session.input_audio.append"}


class Connection:
    """One way into a Live session: its primary socket, its data channel or a sideband."""

    def __init__(self, session: LiveSession, kind: str) -> None:
        self.session = session
        self.kind = kind
        self.output: Output | None = None

    @property
    def union(self) -> str:
        """Return the SDK union this connection's server events belong to."""
        return "server" if self.kind == "websocket" else "connect"

    async def handle(self, message: str | bytes) -> None:
        await self.session.commands.handle(message, self)

    def detach(self, output: Any = None) -> None:
        self.session.detach(self)

    def client_events(self) -> tuple[str, ...]:
        """Return the client event types this connection may send."""
        if self.kind == "websocket":
            return events.WEBSOCKET_EVENTS
        if self.kind == "sideband":
            return events.SIDEBAND_EVENTS
        allowed = self._permissions().get("allowed_client_events")
        if allowed in (None, "all"):
            return events.DATA_CHANNEL_EVENTS
        return tuple(kind for kind in events.DATA_CHANNEL_EVENTS if kind in allowed)

    def hears(self, event: dict[str, Any]) -> bool:
        """Whether this connection is sent ``event`` (audio aside, see LiveSession)."""
        if event["type"] in SIDEBAND_ONLY:
            return self.kind == "sideband"
        if self.kind != "datachannel":
            return True
        allowed = self._permissions().get("allowed_server_events")
        if allowed in (None, "all"):
            return True
        nested = (event.get("event") or {}).get("type")
        return any(
            selector["type"] == event["type"] and (selector.get("response_event") in (None, nested))
            for selector in allowed
        )

    def _permissions(self) -> dict[str, Any]:
        return (self.session.session.get("client") or {}).get("data_channel") or {}

    async def send(self, event: dict[str, Any]) -> None:
        if self.output is None or not self.hears(event):
            return
        try:
            await self.output.send_text(self.session.serialise(event, self.union))
        except ConnectionError:
            self.session.detach(self)


def register(emulator: Emulator, session: LiveSession) -> None:
    """Make a new session known to the emulator until it ends, its client events recorded."""
    session_id = session.session["id"]
    emulator.live_sessions[session_id] = session
    session.on_client_event = lambda event: emulator.note(
        "event", session_id=session_id, event=event
    )

    async def forget() -> None:
        emulator.live_sessions.pop(session_id, None)

    session.on_close.append(forget)


def error_event(error: ApiError, client_event_id: str | None) -> dict[str, Any]:
    """Return Live's ``error`` event: the command's id at the top and inside ``error``."""
    event: dict[str, Any] = {
        "type": "error",
        "event_id": ids.event_id(),
        "error": {
            "type": error.type,
            "code": error.code or error.type,  # Live's error.code is never null
            "message": error.message,
            "param": error.param,
            "client_event_id": client_event_id,
        },
    }
    if client_event_id is not None:
        event["client_event_id"] = client_event_id
    return event
