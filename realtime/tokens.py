"""Proxy tokens: short-lived, signed credentials for the WebSocket proxy.

An SDK pointed at our ``/v1/realtime`` presents one where it would present an OpenAI key
(``Authorization: Bearer …`` or the ``openai-insecure-api-key.…`` subprotocol). The token is
signed with Django's signing (so ``SECRET_KEY`` protects it), names the user it was minted
for, and carries its own expiry. It is no OpenAI credential: leaking one exposes only this
server's proxy, for its remaining seconds.

Tokens are made of RFC 7230 token characters (base64url and dots) because browsers refuse
a WebSocket subprotocol with anything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing

PREFIX = "rtp_"
_SALT = "realtime.proxy-token"
_SEPARATOR = "."


class InvalidProxyToken(Exception):
    """The token cannot be used; ``code`` says why (for the close reason and the record)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class ProxyToken:
    value: str
    expires_at: int
    user_id: int | None


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT, sep=_SEPARATOR)


def issue(user_id: int | None, ttl: int) -> ProxyToken:
    """A token for ``user_id`` (None: anonymous) that expires in ``ttl`` seconds."""
    expires_at = int(time.time()) + ttl
    signed = _signer().sign_object({"u": user_id, "e": expires_at})
    return ProxyToken(value=PREFIX + signed, expires_at=expires_at, user_id=user_id)


def verify(value: str) -> ProxyToken:
    """The token's claims, or ``InvalidProxyToken`` if it is not ours, altered or expired."""
    if not value.startswith(PREFIX):
        raise InvalidProxyToken("invalid_proxy_token", "This is not a proxy token of this server.")
    try:
        claims = _signer().unsign_object(value.removeprefix(PREFIX))
    except (signing.BadSignature, ValueError):
        raise InvalidProxyToken(
            "invalid_proxy_token", "The proxy token's signature does not match: it was altered."
        ) from None
    if not isinstance(claims, dict) or not isinstance(claims.get("e"), int):
        raise InvalidProxyToken("invalid_proxy_token", "The proxy token is malformed.")
    if claims["e"] <= time.time():
        raise InvalidProxyToken(
            "proxy_token_expired",
            "The proxy token has expired: mint a fresh one right before connecting.",
        )
    user_id = claims.get("u")
    return ProxyToken(
        value=value, expires_at=claims["e"], user_id=user_id if isinstance(user_id, int) else None
    )
