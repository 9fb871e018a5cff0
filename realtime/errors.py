"""The one table of problems: each code with its HTTP status, close code, message and hint.

Every refusal of ours and every upstream failure we answer with our own code is defined
here once, whether the views answer it over HTTP (``realtime.answers``), the WebSocket proxy
with an ``error`` event and a close (``realtime.proxy``), or both. Upstream 4xx keep
OpenAI's status and body and gain a hint looked up by their code (or, for codes OpenAI
shares between causes, by the message). The common troubleshooting symptoms are here as
data too: ``UPSTREAM_HINTS`` for the errors OpenAI reports, ``BROWSER_HINTS`` for what only
a browser sees. The page shows the hint, the admin shows the code, logs carry both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime import upstream
from realtime.keys import redact


@dataclass(frozen=True)
class Problem:
    """One problem, as every path that reports it words it.

    ``status`` is the HTTP status the views answer with (None: only the proxy reports it).
    ``close_code`` is the proxy's close (None: the proxy answers with the ``error`` event
    alone and the session goes on, or never reports it). Like OpenAI's realtime socket, the
    proxy closes a refused credential with 3000; other closes are 4000 plus the matching HTTP
    status, because servers such as daphne may only send 1000 and 3000-4999. The close reason
    is ``<error_type>.<code>``. ``socket_hint`` replaces the hint where a socket client must
    act otherwise (connect again rather than repeat a request).
    """

    code: str
    message: str
    hint: str
    status: int | None = None
    close_code: int | None = None
    error_type: str = "invalid_request_error"
    socket_hint: str = ""

    @property
    def reason(self) -> str:
        return f"{self.error_type}.{self.code}"


_PROBLEMS = [
    # Refusals of a request: it never reached OpenAI.
    Problem(
        "invalid_bearer",
        "The Authorization header must be 'Bearer ek_…', an ephemeral client secret.",
        "Mint a secret with POST /api/realtime/client-secret and send its value; never send "
        "a server key (sk-…) from a browser.",
        status=401,
    ),
    Problem(
        "login_required",
        "Sign in to start a voice session.",
        "This server sets REALTIME_REQUIRE_LOGIN; sign in, then try again.",
        status=401,
        close_code=3000,
        socket_hint="This server sets REALTIME_REQUIRE_LOGIN; sign in, then connect again.",
    ),
    Problem(
        "csrf_failed",
        "CSRF verification failed.",
        "Send the csrftoken cookie's value in the X-CSRFToken header, from a page served by "
        "this site (check CSRF_TRUSTED_ORIGINS behind a proxy).",
        status=403,
    ),
    Problem(
        "invalid_sdp",
        "The body is not an SDP offer: it must start with 'v='.",
        "Post pc.localDescription.sdp after setLocalDescription(), unchanged, as the body.",
        status=400,
    ),
    Problem(
        # Over HTTP the mint's body; in a proxied session a client frame (always answered
        # with the parser's own message).
        "invalid_json",
        "The body is not a JSON object.",
        "Send an empty body or a JSON object with Content-Type: application/json.",
        status=400,
        socket_hint="Send each event as one JSON object in a text frame.",
    ),
    Problem(
        "invalid_call_id",
        'The body must be JSON {"call_id": "rtc_…"}, naming a call this server relayed.',
        "Send the X-Realtime-Call-Id the handshake answered with.",
        status=400,
    ),
    Problem(
        "invalid_transport",
        "The transport must be 'webrtc' or 'websocket'.",
        'Send {} for an ek_ secret (WebRTC), or {"transport": "websocket"} for a proxy token.',
        status=400,
    ),
    Problem(
        "unknown_parameter",
        "The request has a parameter this endpoint does not take.",
        "Remove it; the server chooses the model, voice and instructions from its settings.",
        status=400,
    ),
    Problem(
        "request_too_large",
        "The request body is larger than this endpoint accepts.",
        "A browser's SDP offer is a few KiB; post only pc.localDescription.sdp as the body.",
        status=413,
    ),
    Problem(
        "method_not_allowed",
        "This endpoint only accepts POST.",
        "Send a POST request.",
        status=405,
    ),
    Problem(
        "unsupported_media_type",
        "The offer must be sent with Content-Type: application/sdp.",
        "Post the raw SDP text with Content-Type: application/sdp, not JSON or a form.",
        status=415,
    ),
    Problem(
        # The proxy always words its own message: new sessions, with the seconds to wait.
        "rate_limited",
        "Too many requests from this client.",
        "Wait for the number of seconds in Retry-After, then try again.",
        status=429,
        close_code=4429,
        socket_hint="Wait a minute, then connect again.",
    ),
    Problem(
        "server_not_configured",
        "This server has no OpenAI API key configured.",
        "Set OPENAI_API_KEY in the environment or .env.local and restart the server.",
        status=503,
        close_code=4503,
        error_type="server_error",
    ),
    # Refusals of a WebSocket connection.
    Problem(
        "missing_credentials",
        "No proxy token: send 'Authorization: Bearer rtp_…' or the subprotocol "
        "'openai-insecure-api-key.rtp_…'.",
        "Mint one with POST /api/realtime/client-secret and the JSON body "
        '{"transport": "websocket"}, or with manage.py mint_secret --proxy.',
        close_code=3000,
    ),
    Problem(
        "invalid_proxy_token",
        "The proxy token is not valid.",
        "Use the value minted by this server, unchanged; mint a fresh one if in doubt.",
        close_code=3000,
    ),
    Problem(
        "proxy_token_expired",
        "The proxy token has expired.",
        "Mint a fresh token right before connecting (they last REALTIME_SECRET_TTL seconds).",
        close_code=3000,
    ),
    Problem(
        "openai_key_refused",
        "This server takes its own proxy tokens, never an OpenAI key.",
        "Keep OpenAI keys on the server: mint a proxy token and use it as the api_key.",
        close_code=3000,
    ),
    Problem(
        "origin_not_allowed",
        "This page's origin may not open a voice session here.",
        "Serve the page from a host in ALLOWED_HOSTS.",
        close_code=4403,
    ),
    Problem(
        "too_many_sessions",
        "This user already has the most open voice sessions allowed.",
        "Close another session first (REALTIME_PROXY_MAX_SESSIONS_PER_USER).",
        close_code=4429,
    ),
    # The proxy's limits on a session.
    Problem(
        "frame_too_large",
        "The message is larger than this server accepts.",
        "Send audio in small chunks (about 20 ms per input_audio_buffer.append).",
        close_code=4413,
    ),
    Problem(
        "message_rate_exceeded",
        "Too many messages per second.",
        "Send about 50 audio chunks per second, not more (REALTIME_PROXY_MAX_MESSAGES_PER_SECOND).",
        close_code=4429,
    ),
    Problem(
        "idle_timeout",
        "The session was closed after a long silence from the client.",
        "Connect again to continue (REALTIME_PROXY_IDLE_TIMEOUT).",
        close_code=4408,
    ),
    Problem(
        "session_too_long",
        "The session reached its maximum length.",
        "Connect again to continue (REALTIME_PROXY_MAX_SESSION_SECONDS).",
        close_code=4408,
    ),
    Problem(
        "client_not_reading",
        "The client stopped reading the server's messages.",
        "Read every message the socket delivers, even ones you ignore.",
        close_code=4408,
    ),
    # Client events the proxy answers in the session, which goes on.
    Problem(
        "invalid_event",
        "Invalid event.",
        "Send each event as a JSON object with a 'type', in a text frame.",
    ),
    Problem(
        "event_not_allowed",
        "This server does not accept that client event.",
        "The server's REALTIME_PROXY_CLIENT_EVENTS lists the events it forwards.",
    ),
    Problem(
        "session_locked",
        "This server fixes the session's instructions, tools and model.",
        "Leave them out of session.update and response.create; REALTIME_LOCK_SESSION is on.",
    ),
    # The upstream failed in a way we answer with our own code (``UpstreamError.error_code``).
    Problem(
        "upstream_unreachable",
        "OpenAI could not be reached.",
        "Check the server's network and OPENAI_BASE_URL; the OpenAI status page says whether "
        "the service is down.",
        status=502,
        close_code=4502,
        error_type="server_error",
    ),
    Problem(
        "upstream_timeout",
        "OpenAI did not answer in time.",
        "Try again; if it persists, raise REALTIME_READ_TIMEOUT or check the network path.",
        status=504,
        close_code=4504,
        error_type="server_error",
        socket_hint="Try again; if it persists, raise REALTIME_CONNECT_TIMEOUT or check the "
        "network path.",
    ),
    Problem(
        "upstream_server_error",
        "OpenAI answered with a server error.",
        "This is on OpenAI's side; try again shortly.",
        status=502,
        close_code=4502,
        error_type="server_error",
    ),
    Problem(
        "upstream_invalid_answer",
        "OpenAI answered successfully but not with what was expected.",
        "Check that OPENAI_BASE_URL points at the API (https://api.openai.com/v1), not a "
        "proxy or web page.",
        status=502,
    ),
    Problem(
        "upstream_connection_lost",
        "The connection to OpenAI broke.",
        "Connect again; if it keeps happening, check the network path to OpenAI.",
        close_code=4502,
        error_type="server_error",
    ),
]
PROBLEMS: dict[str, Problem] = {found.code: found for found in _PROBLEMS}
# The problems an HTTP endpoint answers with (the README's table of our codes).
HTTP_PROBLEMS: dict[str, Problem] = {
    code: found for code, found in PROBLEMS.items() if found.status is not None
}


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
    """Return the hint for an error body OpenAI sent, by code, then by message."""
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


def failure_message(error: upstream.UpstreamError) -> str | None:
    """Return the message for a failure answered with our own code, keys masked, or None
    where the table's message says all a client should see."""
    return redact(str(error)) if error.public_detail else None
