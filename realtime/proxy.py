"""The WebSocket proxy's decisions, as plain functions: who may connect, what a session
costs, and how a session ends.

``realtime.consumers`` moves the bytes and calls these (and ``realtime.policy``, which
judges each client event); everything here can be tested without a socket. Refusals are
exceptions (``ConnectionRefused``); the ends of a session, ours, OpenAI's and the ASGI
server's, are ``Ending`` values built from the problem table.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model

from realtime import agents, ratelimit, tokens, upstream
from realtime.conf import RealtimeSettings
from realtime.db import database_round
from realtime.errors import PROBLEMS, failure_message
from realtime.hints import GENERIC_UPSTREAM_HINT, upstream_hint
from realtime.keys import fingerprint, redact, redact_values

# Credentials that belong to OpenAI and must never be sent to us (nor by us, from a client).
OPENAI_KEY_PREFIXES = ("sk-", "ek_", "rk_")
KEY_SUBPROTOCOL = "openai-insecure-api-key."


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


# --- who may connect ------------------------------------------------------------------------


async def profile_for(scope: dict[str, Any], caller: Caller) -> agents.Profile:
    """The configuration of the session a caller opens: the agent its ``?agent=slug``
    names, else the default; raise ``ConnectionRefused`` for an unknown agent."""
    try:
        return await agents.resolve(query_value(scope, "agent"))
    except agents.UnknownAgent as unknown:
        raise ConnectionRefused("unknown_agent", caller, str(unknown)) from None


def query_value(scope: dict[str, Any], name: str) -> str | None:
    """The first value of ``name`` in the connection's query string, if any."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


class ConnectionRefused(Exception):
    """The connection may not open a session: answered with an ``error`` event and a close.

    ``caller`` is what was learned of the caller before the refusal, for its record.
    """

    def __init__(self, code: str, caller: Caller, message: str | None = None) -> None:
        self.code = code
        self.caller = caller
        self.message = message
        super().__init__(message or code)


@dataclass
class Caller:
    """Who is connecting: the user (None: anonymous), the fingerprint of the token they
    presented, and the rate-limit client whose open-session slot the connection holds."""

    client_ip: str | None
    user_id: int | None = None
    secret_fingerprint: str = ""
    slot: str | None = None


def client_address(scope: dict[str, Any]) -> str | None:
    return (scope.get("client") or [None])[0]


async def admit(scope: dict[str, Any], conf: RealtimeSettings, *, browser_path: bool) -> Caller:
    """Decide whether this connection may open a session; return its caller, holding an
    open-session slot, or raise ``ConnectionRefused``.

    A proxy token is the credential; on the page's own route (``browser_path``) a
    same-origin browser's session cookie may stand in for one.
    """
    headers = dict(scope.get("headers", []))
    caller = Caller(client_ip=client_address(scope))
    origin = headers.get(b"origin", b"").decode("latin-1")
    if origin and not origin_allowed(origin):
        raise ConnectionRefused(
            "origin_not_allowed", caller, f"Origin {origin[:100]} is not in ALLOWED_HOSTS."
        )
    credential = presented_credential(headers, scope.get("subprotocols", []))
    if credential is not None and credential.is_openai_key:
        raise ConnectionRefused("openai_key_refused", caller)
    if credential is not None:
        caller.secret_fingerprint = fingerprint(credential.value)
        try:
            token = tokens.verify(credential.value)
        except tokens.InvalidProxyToken as invalid:
            raise ConnectionRefused(invalid.code, caller, str(invalid)) from None
        if token.user_id is not None and not await user_is_active(token.user_id):
            raise ConnectionRefused(
                "invalid_proxy_token", caller, "The proxy token's user cannot sign in."
            )
        caller.user_id = token.user_id
    elif browser_path and origin:
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            caller.user_id = user.pk
    else:
        raise ConnectionRefused("missing_credentials", caller)
    if conf.require_login and caller.user_id is None:
        raise ConnectionRefused("login_required", caller)
    if not conf.openai_api_key:
        raise ConnectionRefused("server_not_configured", caller)
    client = ratelimit.client_key(caller.user_id, caller.client_ip)
    verdict = await ratelimit.hit(client, limit=conf.rate_limit, window=conf.rate_limit_window)
    if not verdict.allowed:
        raise ConnectionRefused(
            "rate_limited", caller, f"Too many new sessions; retry in {verdict.retry_after} s."
        )
    if not await ratelimit.take_slot(
        client, limit=conf.proxy_max_sessions_per_user, lifetime=conf.proxy_max_session_seconds
    ):
        raise ConnectionRefused(
            "too_many_sessions",
            caller,
            f"At most {conf.proxy_max_sessions_per_user} open sessions per user.",
        )
    caller.slot = client
    return caller


@database_round
def user_is_active(user_id: int) -> bool:
    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()


# --- how a session ends ---------------------------------------------------------------------
# Like OpenAI's realtime socket, the proxy refuses after the upgrade: one ``error`` event,
# then a close whose reason is ``<type>.<code>`` (``realtime.problem.Problem``). Problems
# without a close code are answered with the error event alone, and the session goes on.


def socket_error_event(
    code: str,
    message: str | None = None,
    *,
    client_event_id: str | None = None,
    param: str | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    """Return an ``error`` server event in OpenAI's shape, with our hint beside the message."""
    found = PROBLEMS.get(code)
    if not hint:
        hint = (found.socket_hint or found.hint) if found else GENERIC_UPSTREAM_HINT
    return {
        "type": "error",
        "event_id": f"event_proxy_{secrets.token_hex(8)}",
        "error": {
            "type": found.error_type if found else "invalid_request_error",
            "code": code,
            "message": message or (found.message if found else code),
            "param": param,
            "event_id": client_event_id,
            "hint": hint,
        },
    }


@dataclass(frozen=True)
class Ending:
    """How a session ends: the close sent to the client, the ``error`` event sent before it
    (None: nothing to tell, or a client that is not listening), and the code recorded as
    the reason the proxy ended it ("" when OpenAI ended it)."""

    close_code: int
    reason: str
    event: dict[str, Any] | None = None
    error_code: str = ""


def ending(code: str, message: str | None = None, *, tell_client: bool = True) -> Ending:
    """End the session for one of our own reasons (a refusal, a limit, a lost upstream)."""
    found = PROBLEMS[code]
    assert found.close_code is not None
    event = socket_error_event(code, message) if tell_client else None
    return Ending(found.close_code, found.reason, event, code)


def upstream_failure_ending(error: upstream.UpstreamError) -> Ending:
    """End a session whose upstream handshake failed: a 401 or 403 closes with 3000 like
    OpenAI's own credential refusal, a 429 with 4429, another 4xx with 4000, and 5xx, a
    timeout or no connection as ``upstream_*`` (4502, 4504)."""
    code = error.error_code
    if isinstance(error, upstream.UpstreamHTTPError) and error.refused:
        body = redact_values(error.error) if error.error is not None else {}
        error_type = str(body.get("type") or "invalid_request_error")
        close_code = {401: 3000, 403: 3000, 429: 4429}.get(error.status, 4000)
        event = socket_error_event(
            code,
            redact(f"OpenAI refused the session ({error.status}): {error.message}"),
            param=body.get("param"),
            hint=upstream_hint(error.error),
        )
        event["error"]["type"] = error_type
        return Ending(close_code, f"{error_type}.{code}", event, code)
    return ending(code, failure_message(error))


def relayable_close_code(code: int) -> bool:
    """Whether the client may be closed with the code OpenAI closed with: daphne (Autobahn)
    lets an application send only 1000 and 3000-4999, which is what OpenAI sends."""
    return code == 1000 or 3000 <= code <= 4999


def upstream_closed_ending(code: int | None, reason: str) -> Ending:
    """End a session OpenAI closed: with its code and reason (after its own error event,
    already relayed), or, when the link broke or its code may not be relayed, by telling
    the client what happened rather than closing silently."""
    if code is not None and relayable_close_code(code):
        return Ending(code, reason)
    detail = f" ({code} {reason})".rstrip() if code is not None else ""
    return ending("upstream_connection_lost", f"The connection to OpenAI broke{detail}.")


def frame_too_large(limit: int, size: int | None = None) -> Ending:
    """End a session whose client sent a message over ``limit`` bytes (``size``, if known)."""
    if size is None:
        return ending(
            "frame_too_large",
            f"The message is larger than this server accepts: at most {limit} bytes.",
        )
    return ending(
        "frame_too_large", f"The message is {size} bytes; this server accepts at most {limit}."
    )


def broken_frame_ending(code: int, reason: str, limit: int) -> Ending:
    """End a session whose client broke the WebSocket protocol, as the server's WebSocket
    layer found (``code``: the close it would have sent, 1009 for a message too large)."""
    if code == 1009:
        return frame_too_large(limit)
    return ending("invalid_frame", f"The WebSocket frame is malformed: {reason[:200]}.")


# What uvicorn closes every client with as it shuts down, before the application hears of
# it (RFC 6455's "service restart": a server's code, which clients have no cause to send).
SERVICE_RESTART = 1012


# Codes no close frame carries (RFC 6455 7.4.1), which the ASGI server reports for a
# connection that ended without one: the row says what they mean.
UNSENT_CLOSES = {
    1005: "closed without a status code",
    1006: "connection lost without a close frame",
}


def client_gone_error_code(code: int, *, draining: bool) -> str:
    """Return why a session ended whose client's connection closed without an ending of
    ours: the server stopping, or "" (the client left)."""
    return "server_shutting_down" if draining or code == SERVICE_RESTART else ""
