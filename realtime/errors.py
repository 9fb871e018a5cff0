"""Error codes, HTTP statuses and the hints a person can act on.

This is the seed's troubleshooting table as data. Our own refusals and upstream failures
have a code here with the status we answer; upstream 4xx keep OpenAI's status and body and
gain a hint looked up by their code (or, for codes OpenAI shares between causes, by the
message). The page shows the hint, the admin shows the code, logs carry both.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

from realtime import upstream
from realtime.keys import redact, redact_values

# Answers that carry a secret, an SDP answer or a per-request error must not be cached.
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Problem:
    code: str
    status: int
    message: str
    hint: str


_PROBLEMS = [
    # Our own refusals: the request never reached OpenAI.
    Problem(
        "invalid_bearer",
        401,
        "The Authorization header must be 'Bearer ek_…', an ephemeral client secret.",
        "Mint a secret with POST /api/realtime/client-secret and send its value; never send "
        "a server key (sk-…) from a browser.",
    ),
    Problem(
        "login_required",
        401,
        "Sign in to start a voice session.",
        "This server sets REALTIME_REQUIRE_LOGIN; sign in, then try again.",
    ),
    Problem(
        "csrf_failed",
        403,
        "CSRF verification failed.",
        "Send the csrftoken cookie's value in the X-CSRFToken header, from a page served by "
        "this site (check CSRF_TRUSTED_ORIGINS behind a proxy).",
    ),
    Problem(
        "invalid_sdp",
        400,
        "The body is not an SDP offer: it must start with 'v='.",
        "Post pc.localDescription.sdp after setLocalDescription(), unchanged, as the body.",
    ),
    Problem(
        "invalid_json",
        400,
        "The body is not a JSON object.",
        "Send an empty body or a JSON object with Content-Type: application/json.",
    ),
    Problem(
        "invalid_call_id",
        400,
        'The body must be JSON {"call_id": "rtc_…"}, naming a call this server relayed.',
        "Send the X-Realtime-Call-Id the handshake answered with.",
    ),
    Problem(
        "invalid_transport",
        400,
        "The transport must be 'webrtc' or 'websocket'.",
        'Send {} for an ek_ secret (WebRTC), or {"transport": "websocket"} for a proxy token.',
    ),
    Problem(
        "unknown_parameter",
        400,
        "The request has a parameter this endpoint does not take.",
        "Remove it; the server chooses the model, voice and instructions from its settings.",
    ),
    Problem(
        "request_too_large",
        413,
        "The request body is larger than this endpoint accepts.",
        "A browser's SDP offer is a few KiB; post only pc.localDescription.sdp as the body.",
    ),
    Problem(
        "method_not_allowed",
        405,
        "This endpoint only accepts POST.",
        "Send a POST request.",
    ),
    Problem(
        "unsupported_media_type",
        415,
        "The offer must be sent with Content-Type: application/sdp.",
        "Post the raw SDP text with Content-Type: application/sdp, not JSON or a form.",
    ),
    Problem(
        "rate_limited",
        429,
        "Too many requests from this client.",
        "Wait for the number of seconds in Retry-After, then try again.",
    ),
    Problem(
        "server_not_configured",
        503,
        "This server has no OpenAI API key configured.",
        "Set OPENAI_API_KEY in the environment or .env.local and restart the server.",
    ),
    # The upstream failed in a way we turn into our own answer.
    Problem(
        "upstream_unreachable",
        502,
        "OpenAI could not be reached.",
        "Check the server's network and OPENAI_BASE_URL; the OpenAI status page says whether "
        "the service is down.",
    ),
    Problem(
        "upstream_timeout",
        504,
        "OpenAI did not answer in time.",
        "Try again; if it persists, raise REALTIME_READ_TIMEOUT or check the network path.",
    ),
    Problem(
        "upstream_server_error",
        502,
        "OpenAI answered with a server error.",
        "This is on OpenAI's side; try again shortly.",
    ),
    Problem(
        "upstream_invalid_answer",
        502,
        "OpenAI answered successfully but not with what was expected.",
        "Check that OPENAI_BASE_URL points at the API (https://api.openai.com/v1), not a "
        "proxy or web page.",
    ),
]
PROBLEMS: dict[str, Problem] = {problem.code: problem for problem in _PROBLEMS}


# Hints for errors OpenAI reports, by its error code. Upstream 4xx keep OpenAI's status.
UPSTREAM_HINTS: dict[str, str] = {
    "beta_api_shape_disabled": (
        "The beta Realtime API is switched off: mint with POST /v1/realtime/client_secrets, "
        "connect with /v1/realtime/calls, and send no OpenAI-Beta header."
    ),
    "api_version_mismatch": (
        "A beta token or endpoint was mixed with the GA API: mint with "
        "POST /v1/realtime/client_secrets and call /v1/realtime/calls?model=gpt-realtime-2.1."
    ),
    "unknown_parameter": (
        "A parameter is in the wrong place or does not exist in the GA API; the model, voice "
        "and instructions belong inside the 'session' object."
    ),
    "missing_required_parameter": (
        "A required field is missing; GA sessions need session.type = 'realtime'."
    ),
    "invalid_type": (
        "A field has the wrong type; GA audio formats are objects such as "
        '{"type": "audio/pcm", "rate": 24000}, not beta strings like "pcm16".'
    ),
    "unsupported_content_type": (
        "JSON was posted where SDP belongs (the browser reports 'Expect line: v='): post the "
        "raw offer with Content-Type: application/sdp to /v1/realtime/calls."
    ),
    "invalid_api_key": (
        "OpenAI refused the server's key: check OPENAI_API_KEY (a project key with Realtime "
        "access)."
    ),
    "invalid_model": (
        "OpenAI does not serve this model for realtime, or no longer does: check REALTIME_MODEL "
        "(manage.py check names the replacement of a model it has shut down)."
    ),
    "model_not_found": "The model is not available to this key; check REALTIME_MODEL.",
    "rate_limit_exceeded": (
        "OpenAI is rate limiting this key: wait for Retry-After, then try again; check the "
        "project's limits."
    ),
    "insufficient_quota": "The OpenAI project is out of credit; check billing.",
}
# The same upstream code means something else when the credential was an ek_ secret.
EPHEMERAL_HINTS: dict[str, str] = {
    "invalid_api_key": (
        "The ephemeral secret is invalid or expired: mint a fresh one right before connecting "
        "(they last REALTIME_SECRET_TTL seconds)."
    ),
}
UNKNOWN_MODEL_PARAMETER_HINT = (
    "'model' was sent at the top level of the mint body: put it inside 'session' (or send {})."
)
# While beta and GA coexisted, /calls answered mismatched usage with an all-empty error.
EMPTY_ERROR_HINT = UPSTREAM_HINTS["api_version_mismatch"]
GENERIC_UPSTREAM_HINT = "OpenAI refused the request; its message says why."

# Symptoms only a browser can see. The page maps its own failures to these.
BROWSER_HINTS: dict[str, str] = {
    "relative_relay_url": ("The relay URL must be absolute: build it from window.location.origin."),
    "sdp_parse_failed": (
        "The browser was handed JSON instead of SDP ('Expect line: v='): the relay must check "
        "the status before using the body as an answer."
    ),
    "connected_but_silent": (
        "Connected but silent: over WebSocket the page must stream 24 kHz PCM16 from the "
        "microphone and play response.output_audio.delta itself."
    ),
    "mic_blocked": (
        "The microphone is blocked or the page is not on a secure origin: allow the "
        "microphone and serve the page over HTTPS (localhost is exempt)."
    ),
}


def problem(code: str) -> Problem:
    return PROBLEMS[code]


def upstream_hint(error: dict[str, Any] | None, *, ephemeral: bool = False) -> str:
    """The hint for an error body OpenAI sent, by code, then by message."""
    error = error or {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    if not any(error.get(key) for key in ("code", "message", "type", "param")):
        return EMPTY_ERROR_HINT
    if code == "unknown_parameter" and error.get("param") == "model":
        return UNKNOWN_MODEL_PARAMETER_HINT
    if ephemeral and code in EPHEMERAL_HINTS:
        return EPHEMERAL_HINTS[code]
    if code in UPSTREAM_HINTS:
        return UPSTREAM_HINTS[code]
    if "Unknown parameter" in message:
        return UPSTREAM_HINTS["unknown_parameter"]
    if "Beta API is no longer supported" in message:
        return UPSTREAM_HINTS["beta_api_shape_disabled"]
    return GENERIC_UPSTREAM_HINT


def error_response(
    code: str, message: str | None = None, *, headers: dict[str, str] | None = None
) -> JsonResponse:
    """Our JSON error answer: ``{"error": {"code", "message", "hint"}}``."""
    return JsonResponse(error_body(code, message), status=problem(code).status, headers=headers)


def error_body(code: str, message: str | None = None) -> dict[str, Any]:
    found = problem(code)
    return {"error": {"code": code, "message": message or found.message, "hint": found.hint}}


@dataclass(frozen=True)
class FailureAnswer:
    """How we answer an upstream failure, and the code we record for it."""

    code: str
    status: int
    body: dict[str, Any]
    summary: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def hint(self) -> str:
        return self.body["error"]["hint"]

    def response(self) -> JsonResponse:
        return JsonResponse(self.body, status=self.status, headers={**NO_STORE, **self.headers})


def server_side_failure(error: upstream.UpstreamError) -> tuple[str, str | None]:
    """Our code for a failure that is not OpenAI refusing the request (5xx, a broken
    answer, a timeout, no connection), and the message to show if the default will not do."""
    if isinstance(error, upstream.UpstreamHTTPError):
        return "upstream_server_error", redact(f"OpenAI answered {error.status}: {error.message}")
    if isinstance(error, upstream.UpstreamTimeout):
        return "upstream_timeout", None
    if isinstance(error, upstream.UpstreamInvalidAnswer):
        return "upstream_invalid_answer", redact(str(error))
    return "upstream_unreachable", None


def answer_upstream_failure(error: upstream.UpstreamError, *, ephemeral: bool) -> FailureAnswer:
    """Upstream 4xx pass through with OpenAI's body and our hint; 5xx, a broken answer or
    no connection are 502; a timeout is 504."""
    if isinstance(error, upstream.UpstreamHTTPError) and error.status < 500:
        # Redacted: OpenAI masks keys in its messages, but nothing key-shaped leaves here.
        details = (
            redact_values(error.error)
            if error.error is not None
            else {
                "code": f"upstream_{error.status}",
                "message": redact(error.body[:500]) or f"OpenAI answered {error.status}.",
            }
        )
        details["hint"] = upstream_hint(error.error, ephemeral=ephemeral)
        headers = {"Retry-After": error.retry_after} if error.retry_after else {}
        return FailureAnswer(
            code=error.code or f"upstream_{error.status}",
            status=error.status,
            body={"error": details},
            summary=redact(f"OpenAI answered {error.status}: {error.message}"),
            headers=headers,
        )
    code, message = server_side_failure(error)
    body = error_body(code, message)
    return FailureAnswer(
        code=code,
        status=problem(code).status,
        body=body,
        summary=body["error"]["message"] if message else f"{body['error']['message']} ({error})",
    )


# --- The WebSocket proxy ---------------------------------------------------------------
# Like OpenAI's realtime socket, the proxy refuses after the upgrade: one ``error`` event,
# then a close whose reason is ``<type>.<code>``. Close 3000 is OpenAI's code for a refused
# credential and 4000 for a malformed request; ours are 4000 plus the matching HTTP status
# (4429 too many, 4502 upstream failed, …), because servers such as daphne may only send
# 1000 and 3000-4999. Problems without a close code are answered with the error event
# alone, and the session goes on.
@dataclass(frozen=True)
class SocketProblem:
    code: str
    close_code: int | None
    message: str
    hint: str
    error_type: str = "invalid_request_error"

    @property
    def reason(self) -> str:
        return f"{self.error_type}.{self.code}"


_SOCKET_PROBLEMS = [
    SocketProblem(
        "missing_credentials",
        3000,
        "No proxy token: send 'Authorization: Bearer rtp_…' or the subprotocol "
        "'openai-insecure-api-key.rtp_…'.",
        "Mint one with POST /api/realtime/client-secret and the JSON body "
        '{"transport": "websocket"}, or with manage.py mint_secret --proxy.',
    ),
    SocketProblem(
        "invalid_proxy_token",
        3000,
        "The proxy token is not valid.",
        "Use the value minted by this server, unchanged; mint a fresh one if in doubt.",
    ),
    SocketProblem(
        "proxy_token_expired",
        3000,
        "The proxy token has expired.",
        "Mint a fresh token right before connecting (they last REALTIME_SECRET_TTL seconds).",
    ),
    SocketProblem(
        "openai_key_refused",
        3000,
        "This server takes its own proxy tokens, never an OpenAI key.",
        "Keep OpenAI keys on the server: mint a proxy token and use it as the api_key.",
    ),
    SocketProblem(
        "login_required",
        3000,
        "Sign in to start a voice session.",
        "This server sets REALTIME_REQUIRE_LOGIN; sign in, then connect again.",
    ),
    SocketProblem(
        "origin_not_allowed",
        4403,
        "This page's origin may not open a voice session here.",
        "Serve the page from a host in ALLOWED_HOSTS.",
    ),
    SocketProblem(
        "server_not_configured",
        4503,
        PROBLEMS["server_not_configured"].message,
        PROBLEMS["server_not_configured"].hint,
        "server_error",
    ),
    SocketProblem(
        "rate_limited",
        4429,
        "Too many new sessions from this client.",
        "Wait a minute, then connect again.",
    ),
    SocketProblem(
        "too_many_sessions",
        4429,
        "This user already has the most open voice sessions allowed.",
        "Close another session first (REALTIME_PROXY_MAX_SESSIONS_PER_USER).",
    ),
    SocketProblem(
        "frame_too_large",
        4413,
        "The message is larger than this server accepts.",
        "Send audio in small chunks (about 20 ms per input_audio_buffer.append).",
    ),
    SocketProblem(
        "message_rate_exceeded",
        4429,
        "Too many messages per second.",
        "Send about 50 audio chunks per second, not more (REALTIME_PROXY_MAX_MESSAGES_PER_SECOND).",
    ),
    SocketProblem(
        "idle_timeout",
        4408,
        "The session was closed after a long silence from the client.",
        "Connect again to continue (REALTIME_PROXY_IDLE_TIMEOUT).",
    ),
    SocketProblem(
        "session_too_long",
        4408,
        "The session reached its maximum length.",
        "Connect again to continue (REALTIME_PROXY_MAX_SESSION_SECONDS).",
    ),
    SocketProblem(
        "client_not_reading",
        4408,
        "The client stopped reading the server's messages.",
        "Read every message the socket delivers, even ones you ignore.",
    ),
    SocketProblem(
        "upstream_unreachable",
        4502,
        PROBLEMS["upstream_unreachable"].message,
        PROBLEMS["upstream_unreachable"].hint,
        "server_error",
    ),
    SocketProblem(
        "upstream_timeout",
        4504,
        PROBLEMS["upstream_timeout"].message,
        "Try again; if it persists, raise REALTIME_CONNECT_TIMEOUT or check the network path.",
        "server_error",
    ),
    SocketProblem(
        "upstream_server_error",
        4502,
        PROBLEMS["upstream_server_error"].message,
        PROBLEMS["upstream_server_error"].hint,
        "server_error",
    ),
    SocketProblem(
        "upstream_connection_lost",
        4502,
        "The connection to OpenAI broke.",
        "Connect again; if it keeps happening, check the network path to OpenAI.",
        "server_error",
    ),
    # Answered in the session, which goes on.
    SocketProblem(
        "invalid_json",
        None,
        "Invalid event: the message is not JSON.",
        "Send each event as one JSON object in a text frame.",
    ),
    SocketProblem(
        "invalid_event",
        None,
        "Invalid event.",
        "Send each event as a JSON object with a 'type', in a text frame.",
    ),
    SocketProblem(
        "event_not_allowed",
        None,
        "This server does not accept that client event.",
        "The server's REALTIME_PROXY_CLIENT_EVENTS lists the events it forwards.",
    ),
    SocketProblem(
        "session_locked",
        None,
        "This server fixes the session's instructions, tools and model.",
        "Leave them out of session.update and response.create; REALTIME_LOCK_SESSION is on.",
    ),
]
SOCKET_PROBLEMS: dict[str, SocketProblem] = {found.code: found for found in _SOCKET_PROBLEMS}


def socket_error_event(
    code: str,
    message: str | None = None,
    *,
    client_event_id: str | None = None,
    param: str | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    """An ``error`` server event in OpenAI's shape, with our hint beside the message."""
    found = SOCKET_PROBLEMS.get(code)
    return {
        "type": "error",
        "event_id": f"event_proxy_{secrets.token_hex(8)}",
        "error": {
            "type": found.error_type if found else "invalid_request_error",
            "code": code,
            "message": message or (found.message if found else code),
            "param": param,
            "event_id": client_event_id,
            "hint": hint or (found.hint if found else GENERIC_UPSTREAM_HINT),
        },
    }


@dataclass(frozen=True)
class SocketFailure:
    """How the proxy tells its client that OpenAI refused or failed the socket."""

    code: str
    close_code: int
    reason: str
    event: dict[str, Any]


def socket_upstream_failure(error: upstream.UpstreamError) -> SocketFailure:
    """An upstream handshake failure as an error event and a close: a 401 or 403 closes with
    3000 like OpenAI's own credential refusal, a 429 with 4429, another 4xx with 4000, and
    5xx, a timeout or no connection as ``upstream_*`` (4502, 4504)."""
    if isinstance(error, upstream.UpstreamHTTPError) and error.status < 500:
        body = redact_values(error.error) if error.error is not None else {}
        code = error.code or f"upstream_{error.status}"
        error_type = str(body.get("type") or "invalid_request_error")
        close_code = {401: 3000, 403: 3000, 429: 4429}.get(error.status, 4000)
        event = socket_error_event(
            code,
            redact(f"OpenAI refused the session ({error.status}): {error.message}"),
            param=body.get("param"),
            hint=upstream_hint(error.error),
        )
        event["error"]["type"] = error_type
        return SocketFailure(code, close_code, f"{error_type}.{code}", event)
    code, message = server_side_failure(error)
    found = SOCKET_PROBLEMS[code]
    return SocketFailure(code, found.close_code, found.reason, socket_error_event(code, message))
