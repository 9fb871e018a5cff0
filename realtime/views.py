"""HTTP: the client-secret mint, the SDP handshake relay and hangup (the page is
``realtime.pages``').

The API views are async (the upstream call is network I/O) and answer every failure as
JSON ``{"error": {"code", "message", "hint"}}`` (``realtime.answers``). ``api_endpoint``
makes the checks every one of them makes first, in one place: a POST, of a sane size
(declared and actual), from the page's session (CSRF, the login rule), within the rate
limit. Each request that reaches them leaves one ``UpstreamExchange`` row, whether it was
refused here, failed upstream or succeeded; ``realtime.middleware`` answers and records
what Django would refuse before or around them. CSRF is checked here rather than by the
middleware so that a failure is answered in that JSON shape and recorded like any other
refusal.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from realtime import agents, logcontext, ratelimit, routing, tokens, upstream
from realtime.answers import NO_STORE, answer_upstream_failure, error_response
from realtime.conf import MAX_BODY_BYTES, get_settings
from realtime.csrf import csrf_failure
from realtime.diagnostics import Exchange, end_hung_up_session, record
from realtime.keys import fingerprint
from realtime.models import Api, ExchangeKind, Outcome, RealtimeSession, Source, Transport
from realtime.sidebands import sidebands, watch_relayed_call

T = TypeVar("T")
ResponseT = TypeVar("ResponseT", bound=HttpResponse)
Refusal = JsonResponse | None
HeaderCheck = Callable[["RelayAttempt"], Awaitable[Refusal]]
Handler = Callable[["RelayAttempt"], Awaitable[HttpResponse]]
HangUp = Callable[[str], Awaitable[int]]  # an upstream hangup of a call or session by id
View = Callable[[HttpRequest], Awaitable[HttpResponse]]
# Keys a browser may send to the mint; the server decides everything else.
MINT_PARAMETERS: frozenset[str] = frozenset({"transport", "agent"})
# The shapes OpenAI gives its secrets and call ids, in the characters a header, a URL path
# and every database column take as they are.
BEARER_SECRET = re.compile(r"(?i:bearer) +(ek_[A-Za-z0-9._~+/-]{1,1000}=*)")
CALL_ID = re.compile(r"rtc_[A-Za-z0-9_-]{1,96}")


@dataclass(frozen=True)
class ApiEndpoint:
    """What an API view records its requests as; ``api_endpoint`` marks each view with one.

    ``openai_errors``: the endpoint stands in for one of OpenAI's (an SDK calls it), so its
    errors come in OpenAI's envelope, which the SDKs read (``realtime.answers.error_body``).
    """

    kind: ExchangeKind
    transport: str = ""
    api: str = Api.REALTIME
    openai_errors: bool = False


class RelayAttempt:
    """One request to an API endpoint: its checks, its upstream call and its record.

    The request carries it (``request.realtime_attempt``), so that ``realtime.middleware``
    can answer and record in its place a request whose view never finished.
    """

    def __init__(self, request: HttpRequest, endpoint: ApiEndpoint) -> None:
        self.request = request
        self.endpoint = endpoint
        self.started = time.perf_counter()
        # A credential the request presented instead of the page's session: an ek_ secret
        # (forwarded as is), or one of this server's proxy tokens.
        self.bearer: str | None = None
        # The body as read by admit(): at most one byte past the limit.
        self.body = b""
        self.recorded = False
        conf = get_settings()
        self.exchange = Exchange(
            kind=endpoint.kind,
            source=Source.WEB,
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            transport=endpoint.transport,
            api=endpoint.api,
            model=conf.live_model if endpoint.api == Api.LIVE else conf.model,
        )
        request.realtime_attempt = self

    async def admit(self, check_headers: HeaderCheck | None = None) -> Refusal:
        """Make the checks every API endpoint makes, in order: a POST, the endpoint's own
        headers, a body within the limit, the page's session (unless a bearer secret
        stands in for it), the rate limit. Return the refusal, or None to go on."""
        if self.request.method != "POST":
            return await self.refuse("method_not_allowed", headers={"Allow": "POST"})
        if check_headers is not None and (refusal := await check_headers(self)):
            return refusal
        if refusal := await self.read_body():
            return refusal
        if self.bearer is None and (refusal := await self.check_browser_session()):
            return refusal
        return await self.check_rate_limit()

    async def read_body(self) -> Refusal:
        """Read the body, refusing one over the limit, declared or not: a chunked body
        declares no length, so at most one byte past the limit is read, whatever the
        framing (``realtime.middleware.ApiBodyLimit`` keeps the server from buffering more)."""
        if (declared := _declared_length(self.request)) > MAX_BODY_BYTES:
            return await self.refuse("request_too_large", _too_large(declared))
        try:
            # Not request.body, which trusts Content-Length (a malformed one raises).
            self.body = self.request.read(MAX_BODY_BYTES + 1)
        except UnreadablePostError:
            return await self.refuse("invalid_body")
        if len(self.body) > MAX_BODY_BYTES:
            return await self.refuse("request_too_large", _too_large(None))
        return None

    async def check_browser_session(self) -> Refusal:
        """Check CSRF and the login rule, for requests authenticated by the session cookie."""
        if reason := csrf_failure(self.request):
            return await self.refuse("csrf_failed", f"CSRF verification failed: {reason}")
        user = await self.request.auser()
        if user.is_authenticated:
            self.exchange.user_id = user.pk
        elif get_settings().require_login:
            return await self.refuse("login_required")
        return None

    async def profile(self, slug: Any) -> agents.Profile | JsonResponse:
        """The configuration of the session asked for: the agent ``slug`` names (else the
        default); noted on the exchange. A refusal if no active agent has that name."""
        if slug is not None and not isinstance(slug, str):
            return await self.refuse("unknown_agent", "'agent' must be an agent's slug.")
        try:
            profile = await agents.resolve(slug or None)
        except agents.UnknownAgent as unknown:
            return await self.refuse("unknown_agent", str(unknown))
        self.exchange.model = profile.live_model if self.endpoint.api == Api.LIVE else profile.model
        self.exchange.agent_id = profile.agent_id
        self.exchange.agent_revision_id = profile.revision_id
        return profile

    async def check_rate_limit(self) -> Refusal:
        conf = get_settings()
        client = ratelimit.client_key(self.exchange.user_id, self.exchange.client_ip)
        verdict = await ratelimit.hit(client, limit=conf.rate_limit, window=conf.rate_limit_window)
        if verdict.allowed:
            return None
        return await self.refuse("rate_limited", headers={"Retry-After": str(verdict.retry_after)})

    async def refuse(
        self,
        code: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
    ) -> JsonResponse:
        """Answer and record one of our own refusals (``param``: the field at fault)."""
        self.exchange.outcome = Outcome.REJECTED
        self.exchange.error_code = code
        answer = error_response(
            code, message, headers=headers, param=param, openai=self.endpoint.openai_errors
        )
        return await self.finish(answer)

    async def fail(self, error: upstream.UpstreamError, *, ephemeral: bool) -> JsonResponse:
        """Answer and record an upstream failure."""
        self.exchange.note_failure(error)
        answer = answer_upstream_failure(
            error, ephemeral=ephemeral, openai=self.endpoint.openai_errors
        )
        return await self.finish(answer.response())

    async def call_upstream(self, operation: Awaitable[T]) -> T:
        """Await an upstream operation, timing it."""
        started = time.perf_counter()
        try:
            return await operation
        finally:
            self.exchange.upstream_ms = (time.perf_counter() - started) * 1000

    async def finish(self, response: ResponseT) -> ResponseT:
        """Record the exchange with the answer's status; return the answer."""
        self.exchange.http_status = response.status_code
        self.exchange.total_ms = (time.perf_counter() - self.started) * 1000
        self.recorded = True
        await record(self.exchange)
        return response


def api_endpoint(
    kind: ExchangeKind,
    *,
    transport: str = "",
    api: str = Api.REALTIME,
    openai_errors: bool = False,
    check_headers: HeaderCheck | None = None,
) -> Callable[[Handler], View]:
    """Make a view of an API endpoint's handler: the view makes the request's
    ``RelayAttempt`` and calls the handler with it once ``RelayAttempt.admit`` lets the
    request through. The view carries its ``ApiEndpoint`` as ``view.api_endpoint``."""
    endpoint = ApiEndpoint(kind, transport, api, openai_errors)

    def decorate(handler: Handler) -> View:
        @csrf_exempt  # checked in admit() so that refusals are JSON and recorded
        @functools.wraps(handler)
        async def view(request: HttpRequest) -> HttpResponse:
            # Every log line of this request names it; so does the answer.
            request_id = logcontext.request_id(request.headers.get("X-Request-ID"))
            logcontext.bind(request_id=request_id, transport=endpoint.transport or None)
            attempt = RelayAttempt(request, endpoint)
            response = await attempt.admit(check_headers) or await handler(attempt)
            response["X-Request-ID"] = request_id
            return response

        view.api_endpoint = endpoint  # type: ignore[attr-defined]
        return view

    return decorate


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
    content_type = attempt.request.content_type
    if content_type != "application/sdp":
        return await attempt.refuse(
            "unsupported_media_type",
            f"The offer must be sent as application/sdp, not {content_type or 'nothing'}.",
        )
    return None


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


def json_object(body: bytes) -> dict[str, Any] | None:
    """Return a JSON body's object (an empty body is ``{}``), or None if it is not one."""
    if not body.strip():
        return {}
    try:
        # orjson bounds the nesting (1024 levels) where json recurses until it fails, and
        # refuses what is not UTF-8.
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _websocket_base_url(request: HttpRequest) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{routing.SDK_BASE_PATH}"


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large(size: int | None) -> str:
    """Say how large the body is, where it declared its size, and what the limit is."""
    if size is None:
        return f"The body is over {MAX_BODY_BYTES} bytes, the most this endpoint accepts."
    return f"The body is {size} bytes; this endpoint accepts at most {MAX_BODY_BYTES}."


def client_ip(request: HttpRequest) -> str | None:
    """Return the peer address as the ASGI server reports it (daphne --proxy-headers for
    proxies), without an IPv6 zone (``%eth0``): no part of the address, and refused by
    PostgreSQL's address column."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(int(address))
    return str(address)
