"""The realtime app's settings, with their defaults, validated once.

Projects set plain Django settings (``OPENAI_API_KEY``, ``REALTIME_MODEL``, …); the app
reads them here into one frozen object. A malformed value raises ``ImproperlyConfigured``
with a message that names the setting; voiceproject's settings module validates at start so
the process refuses to boot instead of failing on the first request.
"""

from __future__ import annotations

import secrets
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
# Every client event type of the GA realtime API: the WebSocket proxy's default allow-list.
CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
)
# With REALTIME_EMULATOR the app talks to its in-process emulator with this key, known to
# this process only, so nothing else on the machine can use that emulator.
EMULATOR_API_KEY = f"sk-emulator-{secrets.token_urlsafe(24)}"


@dataclass(frozen=True)
class RealtimeSettings:
    openai_api_key: str = ""
    openai_base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-realtime-2.1"
    voice: str = "marin"
    instructions: str = "You are a helpful, friendly voice assistant. Keep your answers short."
    transcription_model: str = "gpt-transcribe"
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
    tools: tuple[dict[str, Any], ...] = ()
    allowed_models: tuple[str, ...] = ()
    lock_session: bool = True
    proxy_client_events: tuple[str, ...] = CLIENT_EVENT_TYPES
    proxy_max_frame_bytes: int = 256 * 1024
    proxy_max_messages_per_second: int = 100
    proxy_idle_timeout: float = 300.0
    proxy_max_session_seconds: float = 1800.0
    proxy_max_sessions_per_user: int = 3
    proxy_send_timeout: float = 10.0

    @classmethod
    def from_settings(cls, source: Any) -> RealtimeSettings:
        """Read and validate from anything with Django-setting attributes."""
        values = {
            field.name: getattr(source, SETTING_NAMES[field.name], field.default)
            for field in fields(cls)
        }
        for field in fields(cls):
            # Settings modules naturally hold lists; the frozen settings keep tuples.
            if isinstance(field.default, tuple) and isinstance(values[field.name], list):
                values[field.name] = tuple(values[field.name])
        if values["emulator"] is True:
            values["openai_api_key"] = EMULATOR_API_KEY  # never send a real key to a stand-in
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
        for tool in self.tools:
            if not (
                isinstance(tool, dict)
                and tool.get("type") == "function"
                and isinstance(tool.get("name"), str)
                and tool["name"]
            ):
                raise _invalid(
                    "tools", tool, 'must be function tools: {"type": "function", "name": …}'
                )
        for name in ("allowed_models", "proxy_client_events"):
            if not all(isinstance(item, str) and item for item in getattr(self, name)):
                raise _invalid(name, getattr(self, name), "must be a list of names")
        if unknown := sorted(set(self.proxy_client_events) - set(CLIENT_EVENT_TYPES)):
            raise _invalid(
                "proxy_client_events", ",".join(unknown), "are not realtime client event types"
            )
        for name in (
            "proxy_max_frame_bytes",
            "proxy_max_messages_per_second",
            "proxy_max_sessions_per_user",
        ):
            if getattr(self, name) < 1:
                raise _invalid(name, getattr(self, name), "must be 1 or more")
        for name in ("proxy_idle_timeout", "proxy_max_session_seconds", "proxy_send_timeout"):
            if getattr(self, name) <= 0:
                raise _invalid(name, getattr(self, name), "must be a positive number of seconds")

    def model_for(self, requested: str | None) -> str:
        """The model a client asked for if the allow-list names it, else the configured one."""
        if requested and (requested == self.model or requested in self.allowed_models):
            return requested
        return self.model

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
        if self.tools:
            session["tools"] = [dict(tool) for tool in self.tools]
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
    "tools": "REALTIME_TOOLS",
    "allowed_models": "REALTIME_ALLOWED_MODELS",
    "lock_session": "REALTIME_LOCK_SESSION",
    "proxy_client_events": "REALTIME_PROXY_CLIENT_EVENTS",
    "proxy_max_frame_bytes": "REALTIME_PROXY_MAX_FRAME_BYTES",
    "proxy_max_messages_per_second": "REALTIME_PROXY_MAX_MESSAGES_PER_SECOND",
    "proxy_idle_timeout": "REALTIME_PROXY_IDLE_TIMEOUT",
    "proxy_max_session_seconds": "REALTIME_PROXY_MAX_SESSION_SECONDS",
    "proxy_max_sessions_per_user": "REALTIME_PROXY_MAX_SESSIONS_PER_USER",
    "proxy_send_timeout": "REALTIME_PROXY_SEND_TIMEOUT",
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
