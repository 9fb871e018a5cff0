"""HTTP: the voice chat page, the client-secret mint and the SDP handshake relay.

Both API views are async (the upstream call is network I/O) and answer every failure as
JSON ``{"error": {"code", "message", "hint"}}``. Each request that reaches them leaves one
``UpstreamExchange`` row, whether it was refused here, failed upstream or succeeded.
CSRF is checked in the views rather than by the middleware so that a failure is answered
in that JSON shape and recorded like any other refusal.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie

from realtime import ratelimit, routing, tokens, upstream
from realtime.conf import MAX_BODY_BYTES, get_settings
from realtime.diagnostics import Exchange, end_session, record
from realtime.errors import BROWSER_HINTS, NO_STORE, answer_upstream_failure, error_response
from realtime.keys import fingerprint
from realtime.models import ExchangeKind, Outcome, RealtimeSession, Source, Transport

T = TypeVar("T")
# Keys a browser may send to the mint; the server decides everything else.
MINT_PARAMETERS: frozenset[str] = frozenset({"transport"})


@ensure_csrf_cookie
def voice_chat(request: HttpRequest) -> HttpResponse:
    conf = get_settings()
    page_config = {
        "handshakePath": reverse("realtime:handshake"),
        "clientSecretPath": reverse("realtime:client_secret"),
        "hangupPath": reverse("realtime:hangup"),
        "websocketPath": routing.PAGE_PATH,
        "model": conf.model,
        "transport": conf.transport,
        "webrtcFlow": conf.webrtc_flow,
        "debug": conf.debug,
        "emulator": conf.emulator,
        "hints": BROWSER_HINTS,
    }
    return render(request, "realtime/voice_chat.html", {"page_config": page_config})


class RelayAttempt:
    """One request to a relay endpoint: its checks, its upstream call and its record."""

    def __init__(self, request: HttpRequest, kind: ExchangeKind, transport: str = "") -> None:
        self.request = request
        self.started = time.perf_counter()
        self.exchange = Exchange(
            kind=kind,
            source=Source.WEB,
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            transport=transport,
            model=get_settings().model,
        )

    async def refuse(
        self, code: str, message: str | None = None, headers: dict[str, str] | None = None
    ) -> JsonResponse:
        response = error_response(code, message, headers=headers)
        self.exchange.outcome = Outcome.REJECTED
        self.exchange.error_code = code
        await self.finish(response)
        return response

    async def check_browser_post(self) -> JsonResponse | None:
        """What every JSON endpoint the page posts to checks first: a POST of a sane size,
        from the page's session (CSRF, login rule), within the rate limit."""
        if self.request.method != "POST":
            return await self.refuse("method_not_allowed", headers={"Allow": "POST"})
        if (declared := _declared_length(self.request)) > MAX_BODY_BYTES:
            return await self.refuse("request_too_large", _too_large(declared))
        if refusal := await self.check_browser_session():
            return refusal
        return await self.check_rate_limit()

    async def check_browser_session(self) -> JsonResponse | None:
        """CSRF and the login rule, for requests authenticated by the session cookie."""
        # Read the body first: the CSRF check parses form bodies, which would consume the
        # stream; afterwards request.body serves the cached bytes.
        self.request.body  # noqa: B018
        if reason := csrf_failure(self.request):
            return await self.refuse("csrf_failed", f"CSRF verification failed: {reason}")
        user = await self.request.auser()
        if user.is_authenticated:
            self.exchange.user_id = user.pk
        elif get_settings().require_login:
            return await self.refuse("login_required")
        return None

    async def check_rate_limit(self) -> JsonResponse | None:
        conf = get_settings()
        client = (
            f"user:{self.exchange.user_id}"
            if self.exchange.user_id
            else f"ip:{self.exchange.client_ip or 'unknown'}"
        )
        verdict = await ratelimit.hit(client, limit=conf.rate_limit, window=conf.rate_limit_window)
        if verdict.allowed:
            return None
        return await self.refuse("rate_limited", headers={"Retry-After": str(verdict.retry_after)})

    async def fail(self, error: upstream.UpstreamError, *, ephemeral: bool) -> JsonResponse:
        """Answer and record an upstream failure."""
        answer = answer_upstream_failure(error, ephemeral=ephemeral)
        self.exchange.note_failure(error, answer.code)
        response = answer.response()
        await self.finish(response)
        return response

    async def call_upstream(self, operation: Awaitable[T]) -> T:
        """Await an upstream operation, timing it."""
        started = time.perf_counter()
        try:
            return await operation
        finally:
            self.exchange.upstream_ms = (time.perf_counter() - started) * 1000

    async def finish(self, response: HttpResponse) -> None:
        self.exchange.http_status = response.status_code
        self.exchange.total_ms = (time.perf_counter() - self.started) * 1000
        await record(self.exchange)


@csrf_exempt  # checked in the view so that refusals are JSON and recorded
async def client_secret(request: HttpRequest) -> HttpResponse:
    """Mint an ephemeral ``ek_`` secret for the browser; the server key never leaves."""
    attempt = RelayAttempt(request, ExchangeKind.CLIENT_SECRET)
    if refusal := await attempt.check_browser_post():
        return refusal
    body = await _check_mint_body(attempt)
    if isinstance(body, JsonResponse):
        return body
    conf = get_settings()
    if not conf.openai_api_key:
        return await attempt.refuse("server_not_configured")
    if body.get("transport") == Transport.WEBSOCKET:
        return await _mint_proxy_token(attempt)
    try:
        secret = await attempt.call_upstream(
            upstream.mint_client_secret(conf.session_config(), conf.secret_ttl)
        )
    except upstream.UpstreamError as error:
        return await attempt.fail(error, ephemeral=False)
    model = secret.session.get("model") or conf.model
    attempt.exchange.model = model
    attempt.exchange.upstream_status = secret.status
    attempt.exchange.response_bytes = secret.response_bytes
    attempt.exchange.secret_fingerprint = fingerprint(secret.value)
    response = JsonResponse(
        {
            "value": secret.value,
            "expires_at": secret.expires_at,
            "model": model,
            "session": secret.session,
        },
        headers=NO_STORE,
    )
    await attempt.finish(response)
    return response


async def _check_mint_body(attempt: RelayAttempt) -> dict[str, Any] | JsonResponse:
    """The mint's JSON body (empty means ``{}``), or the refusal of a malformed one."""
    body = attempt.request.body
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return await attempt.refuse("invalid_json")
    if unknown := sorted(set(payload) - MINT_PARAMETERS):
        return await attempt.refuse(
            "unknown_parameter", f"Unknown parameter: {', '.join(map(repr, unknown))}."
        )
    if payload.get("transport", Transport.WEBRTC) not in Transport.values:
        return await attempt.refuse(
            "invalid_transport",
            f"Unknown transport {payload['transport']!r}: use 'webrtc' or 'websocket'.",
        )
    return payload


async def _mint_proxy_token(attempt: RelayAttempt) -> JsonResponse:
    """A token for this server's WebSocket proxy: no OpenAI round trip, no OpenAI secret."""
    conf = get_settings()
    token = tokens.issue(attempt.exchange.user_id, conf.secret_ttl)
    attempt.exchange.transport = Transport.WEBSOCKET
    attempt.exchange.secret_fingerprint = fingerprint(token.value)
    response = JsonResponse(
        {
            "value": token.value,
            "expires_at": token.expires_at,
            "model": conf.model,
            "transport": Transport.WEBSOCKET,
            # What openai-python takes as websocket_base_url (realtime.routing's SDK path).
            "websocket_base_url": _websocket_base_url(attempt.request),
        },
        headers=NO_STORE,
    )
    await attempt.finish(response)
    return response


@csrf_exempt  # a bearer secret needs no CSRF; cookie requests are checked in the view
async def handshake(request: HttpRequest) -> HttpResponse:
    """Relay a browser's SDP offer to ``/realtime/calls`` and return OpenAI's answer.

    With ``Authorization: Bearer ek_…`` (the official JS SDK's request) the secret is
    forwarded as is. Without it the server's key and configured session are used: the
    unified flow, for which the session cookie, CSRF, the login rule and the limit apply.
    """
    attempt = RelayAttempt(request, ExchangeKind.CALL, transport=Transport.WEBRTC)
    if request.method != "POST":
        return await attempt.refuse("method_not_allowed", headers={"Allow": "POST"})
    bearer = None
    if authorization := request.headers.get("Authorization", ""):
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith("ek_"):
            return await attempt.refuse("invalid_bearer")
        bearer = token
        attempt.exchange.secret_fingerprint = fingerprint(bearer)
    if request.content_type != "application/sdp":
        return await attempt.refuse(
            "unsupported_media_type",
            f"The offer must be sent as application/sdp, not {request.content_type or 'nothing'}.",
        )
    if (declared := _declared_length(request)) > MAX_BODY_BYTES:
        return await attempt.refuse("request_too_large", _too_large(declared))
    if bearer is None and (refusal := await attempt.check_browser_session()):
        return refusal
    if refusal := await attempt.check_rate_limit():
        return refusal
    offer = request.body
    attempt.exchange.request_bytes = len(offer)
    if len(offer) > MAX_BODY_BYTES:
        return await attempt.refuse("request_too_large", _too_large(len(offer)))
    if not offer.startswith(b"v="):
        return await attempt.refuse("invalid_sdp")
    conf = get_settings()
    session_config = None
    if bearer is None:
        if not conf.openai_api_key:
            return await attempt.refuse("server_not_configured")
        bearer, session_config = conf.openai_api_key, conf.session_config()
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
    response = HttpResponse(answer.sdp, status=201, content_type="application/sdp", headers=headers)
    await attempt.finish(response)
    return response


@csrf_exempt  # checked in the view so that refusals are JSON and recorded
async def hangup(request: HttpRequest) -> HttpResponse:
    """End a WebRTC call the page started (Stop): hang up with OpenAI, close its session.

    The call id is the credential: only the page that started the call was given it.
    """
    attempt = RelayAttempt(request, ExchangeKind.HANGUP, transport=Transport.WEBRTC)
    if refusal := await attempt.check_browser_post():
        return refusal
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        payload = None
    call_id = payload.get("call_id") if isinstance(payload, dict) else None
    if not isinstance(call_id, str) or not call_id.startswith("rtc_") or len(call_id) > 100:
        return await attempt.refuse("invalid_call_id")
    attempt.exchange.call_id = call_id
    session = await RealtimeSession.objects.filter(call_id=call_id).order_by("-id").afirst()
    attempt.exchange.session_id = session.pk if session else None
    if not get_settings().openai_api_key:
        return await attempt.refuse("server_not_configured")
    try:
        status = await attempt.call_upstream(upstream.hang_up_call(call_id))
    except upstream.UpstreamError as error:
        if isinstance(error, upstream.UpstreamHTTPError) and error.status == 404:
            status = 404  # already over (the peer left first): the session still ends here
        else:
            return await attempt.fail(error, ephemeral=False)
    attempt.exchange.upstream_status = status
    if session is not None and session.ended_at is None:
        await end_session(session.pk)
    response = HttpResponse(status=204, headers=NO_STORE)
    await attempt.finish(response)
    return response


def _websocket_base_url(request: HttpRequest) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{routing.SDK_BASE_PATH}"


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large(size: int) -> str:
    return f"The body is {size} bytes; this endpoint accepts at most {MAX_BODY_BYTES}."


def client_ip(request: HttpRequest) -> str | None:
    """The peer address as the ASGI server reports it (daphne --proxy-headers for proxies)."""
    address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Django's CSRF verdict for this request: the reason it fails, or None."""
    check = _CsrfCheck(lambda request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})
