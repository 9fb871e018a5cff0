"""The realtime app's settings, with their defaults, validated once.

Projects set plain Django settings (``OPENAI_API_KEY``, ``REALTIME_MODEL``, …); the app
reads them here into one frozen object. A malformed value raises ``ImproperlyConfigured``
with a message that names the setting; voiceproject's settings module validates at start so
the process refuses to boot instead of failing on the first request.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

TRANSPORTS = ("webrtc", "websocket")
WEBRTC_FLOWS = ("unified", "ephemeral")
# The GA API accepts 10..7200 seconds for expires_after.seconds.
SECRET_TTL_RANGE = (10, 7200)
# The largest body the mint and relay accept; a browser's SDP offer is a few KiB.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class RealtimeSettings:
    openai_api_key: str = ""
    openai_base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-realtime"
    voice: str = "marin"
    instructions: str = "You are a helpful, friendly voice assistant. Keep your answers short."
    transcription_model: str = "gpt-4o-mini-transcribe"
    secret_ttl: int = 600
    transport: str = "webrtc"
    webrtc_flow: str = "unified"
    debug: bool = False
    require_login: bool = False
    emulator: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    rate_limit: int = 30
    rate_limit_window: int = 60
    error_body_limit: int = 8192

    @classmethod
    def from_settings(cls, source: Any) -> RealtimeSettings:
        """Read and validate from anything with Django-setting attributes."""
        values = {
            field.name: getattr(source, SETTING_NAMES[field.name], field.default)
            for field in fields(cls)
        }
        conf = cls(**values)
        conf.validate()
        return conf

    def validate(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            expected = type(field.default)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if type(value) is not expected:
                raise _invalid(field.name, value, f"must be a {expected.__name__}")
        if self.openai_api_key.startswith("ek_"):
            raise _invalid(
                "openai_api_key",
                "ek_…",
                "must be a server key (sk-…), not an ephemeral client secret",
            )
        base = urlsplit(self.openai_base_url)
        if base.scheme not in {"http", "https"} or not base.netloc:
            raise _invalid(
                "openai_base_url", self.openai_base_url, "must be an http(s) URL ending in /v1"
            )
        if not self.model:
            raise _invalid("model", self.model, "must name a realtime model")
        low, high = SECRET_TTL_RANGE
        if not low <= self.secret_ttl <= high:
            raise _invalid("secret_ttl", self.secret_ttl, f"must be {low}..{high} seconds")
        if self.transport not in TRANSPORTS:
            raise _invalid("transport", self.transport, f"must be one of {', '.join(TRANSPORTS)}")
        if self.webrtc_flow not in WEBRTC_FLOWS:
            raise _invalid(
                "webrtc_flow", self.webrtc_flow, f"must be one of {', '.join(WEBRTC_FLOWS)}"
            )
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise _invalid(name, getattr(self, name), "must be a positive number of seconds")
        if self.rate_limit < 0:
            raise _invalid("rate_limit", self.rate_limit, "must be 0 (off) or more")
        if self.rate_limit_window < 1:
            raise _invalid("rate_limit_window", self.rate_limit_window, "must be 1 or more")
        if self.error_body_limit < 256:
            raise _invalid("error_body_limit", self.error_body_limit, "must be 256 or more")

    def session_config(self) -> dict[str, Any]:
        """The GA session object this server asks for (mint body and unified calls)."""
        audio_input: dict[str, Any] = {}
        if self.transcription_model:
            audio_input["transcription"] = {"model": self.transcription_model}
        session: dict[str, Any] = {
            "type": "realtime",
            "model": self.model,
            "instructions": self.instructions,
            "audio": {"input": audio_input, "output": {"voice": self.voice}},
        }
        if not audio_input:
            del session["audio"]["input"]
        return session


SETTING_NAMES = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "model": "REALTIME_MODEL",
    "voice": "REALTIME_VOICE",
    "instructions": "REALTIME_INSTRUCTIONS",
    "transcription_model": "REALTIME_TRANSCRIPTION_MODEL",
    "secret_ttl": "REALTIME_SECRET_TTL",
    "transport": "REALTIME_TRANSPORT",
    "webrtc_flow": "REALTIME_WEBRTC_FLOW",
    "debug": "REALTIME_DEBUG",
    "require_login": "REALTIME_REQUIRE_LOGIN",
    "emulator": "REALTIME_EMULATOR",
    "connect_timeout": "REALTIME_CONNECT_TIMEOUT",
    "read_timeout": "REALTIME_READ_TIMEOUT",
    "rate_limit": "REALTIME_RATE_LIMIT",
    "rate_limit_window": "REALTIME_RATE_LIMIT_WINDOW",
    "error_body_limit": "REALTIME_ERROR_BODY_LIMIT",
}


def _invalid(field_name: str, value: Any, rule: str) -> ImproperlyConfigured:
    shown = "<hidden>" if field_name == "openai_api_key" else repr(value)
    return ImproperlyConfigured(f"{SETTING_NAMES[field_name]}={shown} {rule}")


@cache
def get_settings() -> RealtimeSettings:
    return RealtimeSettings.from_settings(settings)


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in SETTING_NAMES.values():
        get_settings.cache_clear()
