"""An offline stand-in for OpenAI's GA realtime endpoints: HTTP, WebRTC and WebSocket.

It answers the way the real service does, errors included, so the relay, the proxy, the
page and the official SDKs can be tested end to end where OpenAI cannot be reached. Its
packages are an extra of its own (``voiceproject[emulator]``): the app runs without them.
"""

from __future__ import annotations

from importlib.util import find_spec

# What the emulator imports beyond the app's own dependencies: the `emulator` extra.
PACKAGES = ("aiortc", "aioice", "av", "numpy", "uvicorn")
INSTALL = "pip install 'voiceproject[emulator]'"


def missing_packages() -> list[str]:
    """Return the emulator's packages that are not installed (nothing is imported)."""
    return [name for name in PACKAGES if find_spec(name) is None]
