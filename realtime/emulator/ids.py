"""Identifier formats as the service prints them."""

from __future__ import annotations

import random
import secrets
import string

_BASE62 = string.ascii_letters + string.digits
# Ids name things; they are not credentials, so a fast generator will do (secrets below do not).
_names = random.Random()  # noqa: S311


def _base62(length: int) -> str:
    return "".join(_names.choices(_BASE62, k=length))


def event_id() -> str:
    return f"event_{_base62(21)}"


def session_id() -> str:
    return f"sess_{_base62(21)}"


def live_session_id() -> str:
    return f"live_{_base62(21)}"


def item_id() -> str:
    return f"item_{_base62(21)}"


def response_id() -> str:
    return f"resp_{_base62(21)}"


def conversation_id() -> str:
    return f"conv_{_base62(21)}"


def function_call_id() -> str:
    return f"call_{_base62(16)}"


def webrtc_call_id() -> str:
    return f"rtc_u1_{secrets.token_hex(16)}"


def client_secret() -> str:
    return f"ek_{secrets.token_hex(16)}"
