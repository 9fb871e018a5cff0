"""Cut text into the deltas the service streams, each with its obfuscation padding."""

from __future__ import annotations

import re
import secrets


def words(text: str) -> list[str]:
    """Split into deltas the way the service streams them: each word with its leading space."""
    return re.findall(r"\s*\S+", text)


def pieces(text: str, size: int) -> list[str]:
    """Split into deltas of ``size`` characters; an empty text is one empty delta."""
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def obfuscation() -> str:
    """Return padding for a delta event, random like the service's."""
    return secrets.token_urlsafe(9)
