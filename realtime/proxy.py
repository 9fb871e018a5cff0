"""The WebSocket proxy's decisions, as plain functions: what a client frame is, whether
policy lets it through, what it costs, and who is knocking.

``realtime.consumers`` moves the bytes and calls these; everything here can be tested
without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import orjson
from channels.security.websocket import OriginValidator
from django.conf import settings

from realtime.conf import RealtimeSettings

# Credentials that belong to OpenAI and must never be sent to us (nor by us, from a client).
OPENAI_KEY_PREFIXES = ("sk-", "ek_", "rk_")
KEY_SUBPROTOCOL = "openai-insecure-api-key."


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
    forward: str  # the text to send upstream


def frame_size(text: str) -> int:
    """UTF-8 size of a text frame; O(1) for the ASCII frames audio streams are made of."""
    return len(text) if text.isascii() else len(text.encode())


def read_client_event(text: str, conf: RealtimeSettings, model: str) -> ClientEvent:
    """Parse one client frame and apply policy; raise ``EventRefused`` to answer instead.

    The frame is forwarded as received when what OpenAI parses cannot differ from what we
    judged; otherwise (a second "type" key anywhere, or any escape sequence, either of which
    could make another JSON parser see a different top-level type) we forward our own
    re-encoding of the event we judged.
    """
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
    if event_type not in conf.proxy_client_events:
        raise EventRefused(
            "event_not_allowed",
            f"Client events of type '{event_type[:100]}' are not accepted by this server.",
            client_event_id=client_event_id,
            param="type",
        )
    if conf.lock_session:
        check_locked_fields(event, conf, model, client_event_id)
    if "\\" in text or text.count('"type"') != 1:
        return ClientEvent(event_type, orjson.dumps(event).decode())
    return ClientEvent(event_type, text)


# Where each locked event carries its overrides: session.update's session, and the
# per-response overrides of response.create.
_LOCKED_CONTAINERS = {"session.update": "session", "response.create": "response"}


def check_locked_fields(
    event: dict[str, Any], conf: RealtimeSettings, model: str, client_event_id: str | None
) -> None:
    """With the session locked, refuse changes to instructions, tools or the session's
    ``model`` (restating the same value is allowed)."""
    container = _LOCKED_CONTAINERS.get(event["type"])
    if container is None or not isinstance(event.get(container), dict):
        return
    fixed = {
        "instructions": conf.instructions,
        "tools": [dict(tool) for tool in conf.tools],
        "model": model,
    }
    for name, allowed in fixed.items():
        if name in event[container] and event[container][name] != allowed:
            raise EventRefused(
                "session_locked",
                f"This server fixes the session's {name}: {event['type']} may not change "
                f"{container}.{name}.",
                client_event_id=client_event_id,
                param=f"{container}.{name}",
            )


def policy_update(conf: RealtimeSettings) -> str:
    """The ``session.update`` the proxy sends first: the server's instructions, voice and
    tools (the model is fixed by the connection's URL)."""
    session = conf.session_config()
    del session["model"]
    session.setdefault("tools", [])
    return orjson.dumps(
        {"type": "session.update", "event_id": "event_proxy_policy", "session": session}
    ).decode()


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def add_from(self, text: str) -> None:
        """Add a ``response.done`` event's usage; other frames cost a substring search."""
        if '"response.done"' not in text:
            return
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict) or event.get("type") != "response.done":
            return
        usage = (event.get("response") or {}).get("usage") or {}
        for name in ("input_tokens", "output_tokens", "total_tokens"):
            value = usage.get(name)
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)


class MessageRate:
    """A token bucket: ``rate`` messages per second, bursts of up to a second's worth."""

    def __init__(self, rate: int, now: float) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class Credential:
    value: str
    via_subprotocol: bool

    @property
    def is_openai_key(self) -> bool:
        return self.value.startswith(OPENAI_KEY_PREFIXES)


def presented_credential(headers: dict[bytes, bytes], subprotocols: list[str]) -> Credential | None:
    """The token a client presents, the way the official SDKs present an API key."""
    for protocol in subprotocols:
        if protocol.startswith(KEY_SUBPROTOCOL):
            return Credential(protocol.removeprefix(KEY_SUBPROTOCOL), via_subprotocol=True)
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credential(value.strip(), via_subprotocol=False)
    return None


def origin_allowed(origin: str) -> bool:
    """Channels' ``AllowedHostsOriginValidator`` rule: the origin's host is in ALLOWED_HOSTS
    (in DEBUG with none set, the local hosts Django itself allows)."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    parsed = urlparse(origin)
    return bool(parsed.hostname) and OriginValidator(None, allowed_hosts).valid_origin(parsed)
