"""Refuse as the service does where REST and the realtime socket agree: wrong key, beta API,
and the answers of each status a fault injects."""

from __future__ import annotations

from realtime.emulator.errors import ApiError
from realtime.emulator.state import mask

BETA_DISABLED = ApiError(
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
    code="beta_api_shape_disabled",
)


def invalid_key(key: str) -> ApiError:
    """Return the service's refusal of an API key it does not know, the key masked."""
    shown = mask(key) if len(key) > 8 else key
    return ApiError(
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
        status=401,
    )


# The service's error for each status a fault may inject.
_STATUS_ERRORS = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", None, "Not found."),
    429: (
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def status_error(status: int) -> ApiError:
    """Return the service's error for an HTTP status (what a fault answers with)."""
    error_type, code, message = _STATUS_ERRORS.get(
        status, ("server_error", None, f"Injected status {status}.")
    )
    return ApiError(message, code=code, type=error_type, status=status)
