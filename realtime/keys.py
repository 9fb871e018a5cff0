"""Credentials in text: fingerprints for ``ek_`` secrets, and masking of anything key-shaped.

Secrets are never stored, logged or returned; these are the two tools that make that easy.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

# sk-…, sk-proj-…, ek_…, rk_…: anything shaped like an OpenAI credential; rtp_…: our proxy
# tokens (base64url parts joined by dots).
_KEY_PATTERN = re.compile(r"\b(sk-|ek_|rk_|rtp_)[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]+)*")


def fingerprint(secret: str) -> str:
    """A stable, non-reversible label for an ``ek_`` secret: its prefix and a hash."""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return f"{secret[:7]}…{digest}"


def redact(text: str) -> str:
    """Mask anything that looks like a key."""
    return _KEY_PATTERN.sub(lambda match: f"{match.group(1)}…redacted", text)


def redact_values(values: dict[str, Any]) -> dict[str, Any]:
    """``redact`` every string value of a (JSON error) object."""
    return {
        key: redact(value) if isinstance(value, str) else value for key, value in values.items()
    }
