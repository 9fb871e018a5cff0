"""The one table of problems: each code with its HTTP status, close code, message and hint.

Every refusal of ours and every upstream failure we answer with our own code is defined
here once, whether the views answer it over HTTP (``realtime.answers``), the WebSocket proxy
with an ``error`` event and a close (``realtime.proxy``), or both. Upstream 4xx keep
OpenAI's status and body and gain a hint looked up by their code (or, for codes OpenAI
shares between causes, by the message: ``realtime.hints``). The page shows the hint, the
admin shows the code, logs carry both. GPT-Live's own refusals are in the table too, from
``realtime.live_errors``.
"""

from __future__ import annotations

from realtime import upstream
from realtime.keys import redact
from realtime.live_errors import LIVE_PROBLEMS
from realtime.problem import Problem

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
        "invalid_body",
        "The request body could not be read.",
        "Send the whole body with the request: the raw SDP offer to the handshake, JSON to the "
        "mint and the hangup.",
        status=400,
    ),
    Problem(
        "invalid_host",
        "The Host header names no host this server serves.",
        "Send the request to a host in ALLOWED_HOSTS; behind a proxy, pass the original Host "
        "header on (or set USE_X_FORWARDED_HOST).",
        status=400,
    ),
    Problem(
        # What Django refused before or around an API view (SuspiciousOperation, BadRequest).
        "bad_request",
        "The request is malformed.",
        "Send only what the endpoint documents; the server's log (django.request, "
        "django.security) says what was refused.",
        status=400,
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
        status=401,
        close_code=3000,
    ),
    Problem(
        "unknown_agent",
        "No active agent has that name.",
        "Name an active agent's slug (the admin's Agents list), or none for the default agent.",
        status=404,
        close_code=4404,
    ),
    Problem(
        "invalid_proxy_token",
        "The proxy token is not valid.",
        "Use the value minted by this server, unchanged; mint a fresh one if in doubt.",
        status=401,
        close_code=3000,
    ),
    Problem(
        "proxy_token_expired",
        "The proxy token has expired.",
        "Mint a fresh token right before connecting (they last REALTIME_SECRET_TTL seconds).",
        status=401,
        close_code=3000,
    ),
    Problem(
        "openai_key_refused",
        "This server takes its own proxy tokens, never an OpenAI key.",
        "Keep OpenAI keys on the server: mint a proxy token and use it as the api_key.",
        status=401,
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
    Problem(
        # Invalid UTF-8 in a text message, or a frame that breaks the WebSocket protocol.
        "invalid_frame",
        "The WebSocket frame is malformed.",
        "Send each event as one JSON text frame in UTF-8; a WebSocket library does this for you.",
        close_code=4400,
    ),
    # The server's own ends of a session.
    Problem(
        "server_shutting_down",
        "This server is shutting down.",
        "Connect again in a moment: a restarted or another server takes the new session.",
        close_code=4503,
        error_type="server_error",
    ),
    Problem(
        # The admin's end_sessions action (realtime.ending), from whichever process.
        "ended_by_staff",
        "A staff member of this server ended the session.",
        "Start a new session if you need one; ask the server's staff why it was ended.",
        close_code=4410,
    ),
    Problem(
        # Never sent: the end recorded on sessions that a stopped process left open.
        "server_stopped",
        "The server process carrying the session stopped without ending it.",
        "Stop servers with SIGTERM or SIGINT so that they drain; manage.py sweep_sessions "
        "ends the sessions a killed process left open.",
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
        "REALTIME_LOCK_SESSION is on: send only the fields the README's client-event policy "
        "lists, and no system messages.",
        status=400,  # a Live create's session (POST /v1/live/sessions); else a client event
    ),
    Problem(
        "server_tool_call",
        "This server runs that tool and answers its call itself.",
        "Leave calls of the server's own tools (REALTIME_SERVER_TOOLS) to it: the model "
        "gets the server's output, then answers.",
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
        close_code=4502,
        error_type="server_error",
    ),
    Problem(
        "upstream_answer_lost",
        "OpenAI was reached, but its answer broke off before it was complete.",
        "Try again: OpenAI may have acted on the request (a call may have started and will "
        "time out). If it keeps happening, check proxies and the network path to OpenAI.",
        status=502,
        error_type="server_error",
    ),
    Problem(
        # A bug of this server, answered in the API's shape rather than as a debug page.
        # A bug on our side, over HTTP or in a proxied session; never a traceback or a page.
        "internal_error",
        "The server failed while handling this request or session.",
        "This is a bug on the server: its log (django.request) has the traceback, and the admin "
        "lists the request with this code.",
        status=500,
        close_code=4500,
        error_type="server_error",
        socket_hint="Connect again; if it keeps happening, the server's log says what failed.",
    ),
    Problem(
        "upstream_connection_lost",
        "The connection to OpenAI broke.",
        "Connect again; if it keeps happening, check the network path to OpenAI.",
        close_code=4502,
        error_type="server_error",
    ),
]
PROBLEMS: dict[str, Problem] = {found.code: found for found in [*_PROBLEMS, *LIVE_PROBLEMS]}
# The problems an HTTP endpoint answers with (the README's table of our codes).
HTTP_PROBLEMS: dict[str, Problem] = {
    code: found for code, found in PROBLEMS.items() if found.status is not None
}


def problem(code: str) -> Problem:
    return PROBLEMS[code]


def failure_message(error: upstream.UpstreamError) -> str | None:
    """Return the message for a failure answered with our own code, keys masked, or None
    where the table's message says all a client should see."""
    return redact(str(error)) if error.public_detail else None
