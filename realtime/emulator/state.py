"""What an emulator process knows: secrets, live calls and sessions, faults, what arrived."""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.emulator import ids
from realtime.emulator.conversation import Settings

if TYPE_CHECKING:
    from realtime.emulator.conversation import Conversation
    from realtime.emulator.live.session import LiveSession
    from realtime.emulator.peer import CallPeer

ENDPOINTS = (
    "client_secrets",
    "calls",
    "hangup",
    "realtime",
    "sideband",
    "live_sessions",
    "live_hangup",
    "live",
    "live_sideband",
)
RECEIVED_LIMIT = 20_000
SECRETS_BEFORE_PRUNING = 1_000  # expired secrets are forgotten once this many are kept
_KEY = re.compile(r"\b(sk-|ek_)([A-Za-z0-9_\-]{4,})")


@dataclass
class Secret:
    value: str
    expires_at: int
    session: dict[str, Any]  # the effective session the secret starts


@dataclass
class Call:
    call_id: str
    conversation: Conversation
    peer: CallPeer


@dataclass
class Fault:
    """A misbehaviour for the next ``count`` requests to ``endpoint`` (None: until cleared).

    HTTP endpoints: ``status`` answers that status instead, with ``body`` (a JSON object, or
    text sent as ``content_type``) or else the service's error body for that status;
    ``retry_after`` adds the header; ``delay_ms`` waits before answering (normally or not);
    ``hang`` never answers; ``truncate`` answers as usual but breaks the connection halfway
    through the body. So an answer that is not SDP is
    ``status=201, body="<html>…", content_type="text/html"``. The ``realtime`` WebSocket
    (and ``sideband``, the same socket attached to a call with ``?call_id=``): ``status``
    refuses the handshake, ``never_open`` leaves it pending, ``drop_after_events`` breaks
    the connection after that many events (the call itself goes on).

    GPT-Live's endpoints follow the same rules: ``live_sessions`` is ``POST
    /v1/live/sessions``, ``live_hangup`` a session's hangup, ``live`` the primary WebSocket
    and ``live_sideband`` an ``…/attach`` socket (``status`` always refuses the handshake;
    a dropped primary socket ends its session with ``connection_lost``).
    """

    endpoint: str
    count: int | None = 1
    status: int | None = None
    body: dict[str, Any] | str | None = None
    content_type: str = "text/plain"
    retry_after: int | None = None
    delay_ms: int = 0
    hang: bool = False
    truncate: bool = False
    never_open: bool = False
    drop_after_events: int | None = None

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be 1 or more, or null for until cleared")


@dataclass
class Emulator:
    """The state of one emulator: shared by its HTTP, WebSocket and WebRTC sides."""

    api_key: str | None = None  # the one server key to accept; None accepts any sk-…
    settings: Settings = field(default_factory=Settings)
    secrets: dict[str, Secret] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    sessions: dict[str, Conversation] = field(default_factory=dict)
    live_sessions: dict[str, LiveSession] = field(default_factory=dict)
    # What tests say the next utterance in any Live session is heard as (see live.model).
    live_heard: deque[str] = field(default_factory=deque)
    faults: list[Fault] = field(default_factory=list)
    received: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECEIVED_LIMIT))
    received_total: int = 0
    invalid_events: list[dict[str, Any]] = field(default_factory=list)

    # --- credentials -----------------------------------------------------------------------

    def accepts_server_key(self, key: str) -> bool:
        if self.api_key is not None:
            return key == self.api_key
        return key.startswith("sk-") and len(key) > 3

    def live_secret(self, value: str) -> Secret | None:
        secret = self.secrets.get(value)
        if secret is None or secret.expires_at <= time.time():
            return None
        return secret

    def mint(self, ttl: int, session: dict[str, Any]) -> Secret:
        if len(self.secrets) >= SECRETS_BEFORE_PRUNING:
            now = time.time()
            self.secrets = {
                value: kept for value, kept in self.secrets.items() if kept.expires_at > now
            }
        secret = Secret(ids.client_secret(), int(time.time()) + ttl, session)
        self.secrets[secret.value] = secret
        return secret

    # --- faults ------------------------------------------------------------------------------

    def take_fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint == endpoint:
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                return fault
        return None

    # --- what arrived ----------------------------------------------------------------------

    def note(self, kind: str, **details: Any) -> None:
        self.received_total += 1
        self.received.append({"kind": kind, "time": time.time(), **details})

    def reset(self) -> None:
        """Forget faults, what arrived, invalid events and what Live utterances are to be
        heard as (the app also ends live sessions)."""
        self.faults.clear()
        self.live_heard.clear()
        self.received.clear()
        self.invalid_events.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "calls": sorted(self.calls),
            "sessions": {
                session_id: conversation.summary()
                for session_id, conversation in self.sessions.items()
            },
            "live_sessions": {
                session_id: session.summary() for session_id, session in self.live_sessions.items()
            },
            "faults": [asdict(fault) for fault in self.faults],
            "received_total": self.received_total,
            "invalid_events": len(self.invalid_events),
        }


def mask(text: str) -> str:
    """Mask keys the way the service prints them: a prefix, stars, the last four."""
    return _KEY.sub(
        lambda match: f"{match.group(1)}{match.group(2)[:3]}***{match.group(2)[-4:]}", text
    )


def masked_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1"): mask(value.decode("latin-1")) for name, value in headers}


def record_client_events(emulator: Emulator, conversation: Conversation) -> None:
    """Keep each client event the conversation receives for the control API."""
    session_id = conversation.session["id"]
    conversation.on_client_event = lambda event: emulator.note(
        "event", session_id=session_id, event=event
    )


def session_expiry(emulator: Emulator) -> int:
    """Return when a session opened now expires, in Unix seconds."""
    return int(time.time()) + emulator.settings.session_seconds
