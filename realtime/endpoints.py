"""What every JSON API endpoint does first and last: its checks, and its record.

``api_endpoint`` makes a view of an endpoint's handler. The view makes the request's
``RelayAttempt``, which makes the checks every endpoint makes, in one place: a POST, of a
sane size (declared and actual), from the page's session (CSRF, the login rule) unless a
bearer credential stands in for it, within the rate limit. Each request that reaches an
endpoint leaves one ``UpstreamExchange`` row, whether it was refused here, failed upstream
or succeeded; ``realtime.middleware`` answers and records what Django would refuse before
or around the view. CSRF is checked here rather than by the middleware so that a failure is
answered as JSON and recorded like any other refusal.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt

from realtime import agents, logcontext, ratelimit, upstream
from realtime.answers import answer_upstream_failure, error_response
from realtime.conf import MAX_BODY_BYTES, get_settings
from realtime.csrf import csrf_failure
from realtime.diagnostics import Exchange, record
from realtime.models import Api, ExchangeKind, Outcome, Source

T = TypeVar("T")
ResponseT = TypeVar("ResponseT", bound=HttpResponse)
Refusal = JsonResponse | None
HeaderCheck = Callable[["RelayAttempt"], Awaitable[Refusal]]
Handler = Callable[..., Awaitable[HttpResponse]]  # (attempt, **the URL's parameters)
View = Callable[..., Awaitable[HttpResponse]]


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
        async def view(request: HttpRequest, **path: str) -> HttpResponse:
            # Every log line of this request names it; so does the answer.
            request_id = logcontext.request_id(request.headers.get("X-Request-ID"))
            logcontext.bind(request_id=request_id, transport=endpoint.transport or None)
            attempt = RelayAttempt(request, endpoint)
            response = await attempt.admit(check_headers) or await handler(attempt, **path)
            response["X-Request-ID"] = request_id
            return response

        view.api_endpoint = endpoint  # type: ignore[attr-defined]
        return view

    return decorate


async def check_media_type(attempt: RelayAttempt, media_type: str, what: str) -> Refusal:
    """Refuse a body not sent as ``media_type`` (``what`` names it in the message)."""
    content_type = attempt.request.content_type
    if content_type != media_type:
        return await attempt.refuse(
            "unsupported_media_type",
            f"{what} must be sent as {media_type}, not {content_type or 'nothing'}.",
        )
    return None


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
