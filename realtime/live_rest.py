"""HTTP: OpenAI's ``POST /v1/live/sessions`` (and its hangup) on this host, for the SDKs.

``AsyncOpenAI(api_key=<proxy token>, base_url="https://this-host/v1").live.create(session=…,
transport={"type": "webrtc", "sdp": offer})`` works unchanged against this server: the
token is one of this server's proxy tokens (``realtime.tokens``, minted with
``POST /api/realtime/client-secret {"transport": "websocket"}``), never an OpenAI key, and it
stands in for the page's session (no cookie, so no CSRF). The server creates the session
with its own key and its own configuration, the profile's ``live_session_config``
(``?agent=slug`` picks the agent), and answers as OpenAI does: 201 with
``{"session": {"id": "live_…"}, "transport": {"type": "webrtc", "sdp": answer}}``, OpenAI's
answer passed on. The exchange, the session row and the sideband are the page's relay's
(``realtime.live_views``). ``client.live.sessions.hangup(id)`` ends such a session as the
page's Stop does.

The client's ``session`` is judged by ``client_session``: with ``REALTIME_LOCK_SESSION`` it
may not change what the server fixes (model, instructions, delegation, voice, …), only the
fields that are the client's own (its data channel's permissions, the idle timeout and wake
policy, its safety identifier); unlocked, its fields override the server's, the model among
those the server allows. Errors come in OpenAI's envelope (``type``, ``code``, ``message``,
``param``), which the SDK raises as ``BadRequestError`` and so on, with our hint beside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.views.decorators.debug import sensitive_variables

from realtime import tokens, upstream_live
from realtime.answers import NO_STORE
from realtime.conf import RealtimeSettings, get_settings
from realtime.endpoints import (
    Handler,
    HeaderCheck,
    Refusal,
    RelayAttempt,
    View,
    api_endpoint,
    check_media_type,
    json_object,
)
from realtime.live_views import answer_created, check_live_offered, create_session
from realtime.models import Api, ExchangeKind, Transport
from realtime.proxy import OPENAI_KEY_PREFIXES, user_is_active
from realtime.upstream_live import LIVE_SESSION_ID
from realtime.views import hang_up_relayed

BODY_FIELDS = frozenset({"session", "transport"})
# What a locked session's client may set: its own side of the session, nothing the model
# hears or is (instructions, input, delegation, model, voice), nor what it costs.
CLIENT_FIELDS = frozenset({"client", "idle_timeout_s", "wake_policy", "safety_identifier"})
# Replaced whole when the client sets them, never merged with the server's.
WHOLE_FIELDS = frozenset({"delegation", "input", "triggers"})


class SessionRefused(Exception):
    """The client's session cannot be applied: the problem's code, and the field at fault."""

    def __init__(self, code: str, message: str, param: str) -> None:
        self.code = code
        self.param = param
        super().__init__(message)


async def _check_create(attempt: RelayAttempt) -> Refusal:
    """Admit only a valid proxy token of this server, and a JSON body."""
    return await _check_token(attempt) or await check_media_type(
        attempt, "application/json", "The body"
    )


@sensitive_variables("authorization", "value")
async def _check_token(attempt: RelayAttempt) -> Refusal:
    """Admit only a valid proxy token of this server."""
    if refusal := await check_live_offered(attempt):
        return refusal
    authorization = attempt.request.headers.get("Authorization", "")
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return await attempt.refuse(
            "missing_credentials", "No proxy token: send 'Authorization: Bearer rtp_…'."
        )
    if value.startswith(OPENAI_KEY_PREFIXES):
        return await attempt.refuse("openai_key_refused")
    try:
        token = tokens.verify(value)
    except tokens.InvalidProxyToken as invalid:
        return await attempt.refuse(invalid.code, str(invalid))
    if token.user_id is not None and not await user_is_active(token.user_id):
        return await attempt.refuse("invalid_proxy_token", "The proxy token's user cannot sign in.")
    # Not kept as the exchange's secret fingerprint: that would file the session under
    # another one the token opened (a proxied WebSocket's), as an ek_ secret's mint.
    attempt.bearer = value
    attempt.exchange.user_id = token.user_id
    if get_settings().require_login and token.user_id is None:
        return await attempt.refuse("login_required")
    return None


def _sdk_endpoint(kind: ExchangeKind, check_headers: HeaderCheck) -> Callable[[Handler], View]:
    """An endpoint standing in for one of OpenAI's Live endpoints: a WebRTC session's, its
    errors in OpenAI's envelope."""
    return api_endpoint(
        kind,
        transport=Transport.WEBRTC,
        api=Api.LIVE,
        openai_errors=True,
        check_headers=check_headers,
    )


@_sdk_endpoint(ExchangeKind.CALL, _check_create)
async def sessions(attempt: RelayAttempt) -> HttpResponse:
    """Create a Live session for an SDK's ``live.create``: OpenAI's answer, passed on."""
    body = json_object(attempt.body)
    if body is None:
        return await attempt.refuse("invalid_json")
    if unknown := sorted(set(body) - BODY_FIELDS):
        return await attempt.refuse(
            "unknown_parameter", f"Unknown parameter: '{unknown[0]}'.", param=unknown[0]
        )
    offer, param = _offer(body)
    if offer is None:
        return await attempt.refuse("invalid_request_body", param=param)
    attempt.exchange.request_bytes = len(offer)
    if not offer.startswith("v="):
        return await attempt.refuse("invalid_sdp", param="transport.sdp")
    conf = get_settings()
    if not conf.openai_api_key:
        return await attempt.refuse("server_not_configured")
    profile = await attempt.profile(attempt.request.GET.get("agent"))
    if isinstance(profile, JsonResponse):
        return profile
    try:
        session = client_session(profile.live_session_config(webrtc=True), body["session"], conf)
    except SessionRefused as refused:
        return await attempt.refuse(refused.code, str(refused), param=refused.param)
    answer = await create_session(attempt, session, offer)
    if isinstance(answer, JsonResponse):
        return answer
    created = JsonResponse(answer.payload, status=answer.status, headers=NO_STORE)
    return await answer_created(attempt, created)


@_sdk_endpoint(ExchangeKind.HANGUP, _check_token)
async def hangup(attempt: RelayAttempt, session_id: str) -> HttpResponse:
    """End a Live session an SDK created here (``client.live.sessions.hangup``), as the
    page's Stop does: the session's id is the credential, with a proxy token. OpenAI answers
    200 with a body the SDK discards; this answers 204."""
    if not LIVE_SESSION_ID.fullmatch(session_id):
        return await attempt.refuse("invalid_session_id", param="session_id")
    return await hang_up_relayed(attempt, session_id, upstream_live.hang_up_live_session)


def _offer(body: dict[str, Any]) -> tuple[str | None, str]:
    """The SDP offer of a create's body; None and the field at fault if it is malformed."""
    if not isinstance(body.get("session"), dict):
        return None, "session"
    transport = body.get("transport")
    if not isinstance(transport, dict):
        return None, "transport"
    if transport.get("type") != "webrtc":
        return None, "transport.type"
    if unknown := sorted(set(transport) - {"type", "sdp"}):
        return None, f"transport.{unknown[0]}"
    if not isinstance(transport.get("sdp"), str):
        return None, "transport.sdp"
    return transport["sdp"], ""


def client_session(
    server: dict[str, Any], client: dict[str, Any], conf: RealtimeSettings
) -> dict[str, Any]:
    """The session to create: the server's, with what the client may set of its own.

    Locked (``REALTIME_LOCK_SESSION``), a client field outside ``CLIENT_FIELDS`` must say
    what the server says already; unlocked, the client's fields override the server's,
    objects merged key by key, and its model must be one the server allows. Raise
    ``SessionRefused`` otherwise.
    """
    if conf.lock_session:
        for name, value in client.items():
            if name in CLIENT_FIELDS:
                continue
            if (changed := _change(server.get(name), value, f"session.{name}")) is not None:
                raise SessionRefused(
                    "session_locked",
                    f"This server fixes the session's {name}: {changed} may not be set.",
                    changed,
                )
        return _merged(server, client)
    requested = client.get("model", server["model"])
    if not isinstance(requested, str) or conf.model_for(requested, server["model"]) != requested:
        raise SessionRefused(
            "model_not_allowed",
            f"The model {str(requested)[:100]!r} is not allowed here.",
            "session.model",
        )
    return _merged(server, client)


def _change(ours: Any, theirs: Any, path: str) -> str | None:
    """The first place where ``theirs`` differs from ``ours`` (None: it says the same)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key, value in theirs.items():
            if (changed := _change(ours.get(key), value, f"{path}.{key}")) is not None:
                return changed
        return None
    return None if ours == theirs else path


def _merged(server: dict[str, Any], client: dict[str, Any], top: bool = True) -> dict[str, Any]:
    """The server's session with the client's fields over it, objects merged key by key."""
    merged = dict(server)
    for name, value in client.items():
        mine = merged.get(name)
        whole = top and name in WHOLE_FIELDS
        if isinstance(mine, dict) and isinstance(value, dict) and not whole:
            merged[name] = _merged(mine, value, top=False)
        else:
            merged[name] = value
    return merged
