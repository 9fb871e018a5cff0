"""The troubleshooting table as data: hints for the errors OpenAI reports, by its code, and
for the symptoms only a browser sees."""

from __future__ import annotations

from typing import Any

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
