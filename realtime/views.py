"""HTTP: the client-secret mint, the SDP handshake relay and hangup (the page is
``realtime.pages``', GPT-Live's relay ``realtime.live_views``').

The API views are async (the upstream call is network I/O) and answer every failure as
JSON ``{"error": {"code", "message", "hint"}}`` (``realtime.answers``); each is the handler
of an ``realtime.endpoints.api_endpoint``, which makes the checks and the record every API
endpoint makes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.debug import sensitive_variables

from realtime import routing, tokens, upstream
from realtime.answers import NO_STORE
from realtime.conf import get_settings
from realtime.diagnostics import end_hung_up_session
from realtime.endpoints import (
    Refusal,
    RelayAttempt,
    api_endpoint,
    check_media_type,
    json_object,
)
from realtime.keys import fingerprint
from realtime.models import ExchangeKind, RealtimeSession, Transport
from realtime.sidebands import sidebands, watch_relayed_call

HangUp = Callable[[str], Awaitable[int]]  # an upstream hangup of a call or session by id
# Keys a browser may send to the mint; the server decides everything else.
MINT_PARAMETERS: frozenset[str] = frozenset({"transport", "agent"})
# The shapes OpenAI gives its secrets and call ids, in the characters a header, a URL path
# and every database column take as they are.
BEARER_SECRET = re.compile(r"(?i:bearer) +(ek_[A-Za-z0-9._~+/-]{1,1000}=*)")
CALL_ID = re.compile(r"rtc_[A-Za-z0-9_-]{1,96}")


@api_endpoint(ExchangeKind.CLIENT_SECRET)
async def client_secret(attempt: RelayAttempt) -> HttpResponse:
    """Mint an ephemeral ``ek_`` secret for the browser; the server key never leaves."""
    body = json_object(attempt.body)
    if body is None:
        return await attempt.refuse("invalid_json")
    if unknown := sorted(set(body) - MINT_PARAMETERS):
        return await attempt.refuse(
            "unknown_parameter", f"Unknown parameter: {', '.join(map(repr, unknown))}."
        )
    if body.get("transport", Transport.WEBRTC) not in Transport.values:
        return await attempt.refuse(
            "invalid_transport",
            f"Unknown transport {body['transport']!r}: use 'webrtc' or 'websocket'.",
        )
    conf = get_settings()
    if not conf.openai_api_key:
        return await attempt.refuse("server_not_configured")
    if body.get("transport") == Transport.WEBSOCKET:
        return await _mint_proxy_token(attempt)
    profile = await attempt.profile(body.get("agent"))
    if isinstance(profile, JsonResponse):
        return profile
    try:
        secret = await attempt.call_upstream(
            upstream.mint_client_secret(profile.session_config(), conf.secret_ttl)
        )
    except upstream.UpstreamError as error:
        return await attempt.fail(error, ephemeral=False)
    attempt.exchange.model = secret.session.get("model") or conf.model
    attempt.exchange.upstream_status = secret.status
    attempt.exchange.response_bytes = secret.response_bytes
    return await _answer_mint(attempt, secret.value, secret.expires_at, session=secret.session)


async def _mint_proxy_token(attempt: RelayAttempt) -> JsonResponse:
    """Mint a token for this server's WebSocket proxy: no OpenAI round trip, no OpenAI
    secret."""
    token = tokens.issue(attempt.exchange.user_id, get_settings().secret_ttl)
    attempt.exchange.transport = Transport.WEBSOCKET
    return await _answer_mint(
        attempt,
        token.value,
        token.expires_at,
        transport=Transport.WEBSOCKET,
        # What openai-python takes as websocket_base_url (realtime.routing's SDK path).
        websocket_base_url=_websocket_base_url(attempt.request),
    )


async def _answer_mint(
    attempt: RelayAttempt, value: str, expires_at: int, **details: Any
) -> JsonResponse:
    """Answer and record a minted credential (never cached): its value, expiry and model,
    and the details of its kind."""
    attempt.exchange.secret_fingerprint = fingerprint(value)
    answer = {"value": value, "expires_at": expires_at, "model": attempt.exchange.model}
    return await attempt.finish(JsonResponse({**answer, **details}, headers=NO_STORE))


@sensitive_variables("authorization", "secret")
async def _check_offer_headers(attempt: RelayAttempt) -> Refusal:
    """Check the handshake's credential, if it brings one (``Bearer ek_…``), and that the
    offer is SDP."""
    request = attempt.request
    if authorization := request.headers.get("Authorization", ""):
        # Only a secret's own characters go on: anything else could not be forwarded as a
        # header (non-ASCII), and is no secret OpenAI issued.
        secret = BEARER_SECRET.fullmatch(authorization.strip())
        if secret is None:
            return await attempt.refuse("invalid_bearer")
        attempt.bearer = secret[1]
        attempt.exchange.secret_fingerprint = fingerprint(secret[1])
    return await check_sdp_offer(attempt)


async def check_sdp_offer(attempt: RelayAttempt) -> Refusal:
    """Check that the body is sent as an SDP offer."""
    return await check_media_type(attempt, "application/sdp", "The offer")


# A bearer secret needs no CSRF; cookie requests are checked like every API endpoint's.
@api_endpoint(ExchangeKind.CALL, transport=Transport.WEBRTC, check_headers=_check_offer_headers)
@sensitive_variables("bearer")
async def handshake(attempt: RelayAttempt) -> HttpResponse:
    """Relay a browser's SDP offer to ``/realtime/calls`` and return OpenAI's answer.

    With ``Authorization: Bearer ek_…`` (the official JS SDK's request) the secret is
    forwarded as is. Without it the server's key and configured session are used: the
    unified flow, for which the session cookie, CSRF, the login rule and the limit apply.
    """
    offer = attempt.body
    attempt.exchange.request_bytes = len(offer)
    if not offer.startswith(b"v="):
        return await attempt.refuse("invalid_sdp")
    conf = get_settings()
    # Without a bearer secret, upstream uses the server key: no frame here ever holds it.
    bearer, session_config = attempt.bearer, None
    if bearer is None:
        if not conf.openai_api_key:
            return await attempt.refuse("server_not_configured")
        # The ek_ flow's configuration is its secret's, chosen at the mint.
        profile = await attempt.profile(attempt.request.GET.get("agent"))
        if isinstance(profile, JsonResponse):
            return profile
        session_config = profile.session_config()
    try:
        answer = await attempt.call_upstream(upstream.create_call(offer, bearer, session_config))
    except upstream.UpstreamError as error:
        return await attempt.fail(error, ephemeral=session_config is None)
    attempt.exchange.upstream_status = answer.status
    attempt.exchange.response_bytes = len(answer.sdp)
    attempt.exchange.call_id = answer.call_id
    headers = {**NO_STORE, "X-Realtime-Call-Id": answer.call_id}
    if answer.location:
        headers["Location"] = answer.location
    response = await attempt.finish(
        HttpResponse(answer.sdp, status=201, content_type="application/sdp", headers=headers)
    )
    # After the exchange's row: the conversation's record hangs on its session.
    watch_relayed_call(attempt.request, attempt.exchange)
    return response


@api_endpoint(ExchangeKind.HANGUP, transport=Transport.WEBRTC)
async def hangup(attempt: RelayAttempt) -> HttpResponse:
    """End a WebRTC call the page started (Stop): hang up with OpenAI, close its session.

    The call id is the credential: only the page that started the call was given it.
    """
    payload = json_object(attempt.body)
    call_id = (payload or {}).get("call_id")
    if not isinstance(call_id, str) or not CALL_ID.fullmatch(call_id):
        return await attempt.refuse("invalid_call_id")
    return await hang_up_relayed(attempt, call_id, upstream.hang_up_call)


async def hang_up_relayed(attempt: RelayAttempt, call_id: str, hang_up: HangUp) -> HttpResponse:
    """Hang up a call (or Live session) this server relayed, by its id, with ``hang_up``;
    end its session row, also when OpenAI says it is over already (404)."""
    attempt.exchange.call_id = call_id
    session = await RealtimeSession.objects.filter(call_id=call_id).order_by("-id").afirst()
    attempt.exchange.session_id = session.pk if session else None
    if not get_settings().openai_api_key:
        return await attempt.refuse("server_not_configured")

    async def hang_up_upstream() -> int:
        try:
            return await attempt.call_upstream(hang_up(call_id))
        except upstream.UpstreamError as error:
            if error.status != 404:
                raise
            return 404  # already over (the peer left first): the session still ends here

    try:
        # Around the hangup, so that the sideband's end is ours, not the close it brings.
        status = await sidebands().hang_up(call_id, "hangup", hang_up_upstream)
    except upstream.UpstreamError as error:
        return await attempt.fail(error, ephemeral=False)
    attempt.exchange.upstream_status = status
    if session is not None:
        await end_hung_up_session(session.pk)
    return await attempt.finish(HttpResponse(status=204, headers=NO_STORE))


def _websocket_base_url(request: HttpRequest) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{routing.SDK_BASE_PATH}"
