"""Refuse as the service does where REST and the realtime socket agree: wrong key, beta API."""

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
