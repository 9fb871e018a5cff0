"""The realtime app's settings, with their defaults, validated once.

Projects set plain Django settings (``OPENAI_API_KEY``, ``REALTIME_MODEL``, …); the app
reads them here into one frozen object. Each field's default is the app's default and its
type says what the setting holds; ``SETTING_NAMES`` gives each field's Django setting.
``RULES`` are the rules a value must follow, each with the system check id that
``manage.py check`` reports it under (``realtime/checks.py``); ``from_settings`` raises
``ImproperlyConfigured`` naming every setting that breaks one, so voiceproject's settings
module can refuse to boot instead of failing on the first request.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from realtime import pricing

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
    # Out of the repr: a settings object in a frame's locals (an error page, a report, a
    # log line) must not show the key.
    openai_api_key: str = dataclasses.field(default="", repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-realtime-2.1"
    live: bool = True
    live_model: str = "gpt-live-1.1"
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
    server_tools: tuple[str, ...] = ()
    tool_timeout: float = 10.0
    allowed_models: tuple[str, ...] = ()
    lock_session: bool = True
    proxy_client_events: tuple[str, ...] = CLIENT_EVENT_TYPES
    proxy_max_frame_bytes: int = 256 * 1024
    proxy_max_messages_per_second: int = 100
    proxy_idle_timeout: float = 300.0
    proxy_max_session_seconds: float = 1800.0
    proxy_max_sessions_per_user: int = 3
    proxy_send_timeout: float = 10.0
    shutdown_grace: float = 5.0
    record_conversations: bool = True
    sideband: bool = True
    sideband_idle_timeout: float = 600.0
    store_transcripts: bool = True
    retention_days: int = 30
    prices: tuple[dict[str, Any], ...] = ()
    metrics_token: str = ""
    database_threads: int = 4

    @classmethod
    def read(cls, source: Any) -> RealtimeSettings:
        """Read from anything with Django-setting attributes, as is: see ``problems()``."""
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
        return cls(**values)

    @classmethod
    def from_settings(cls, source: Any) -> RealtimeSettings:
        """Read and validate from anything with Django-setting attributes."""
        conf = cls.read(source)
        conf.validate()
        return conf

    def validate(self) -> None:
        """Raise ``ImproperlyConfigured`` naming every problem, one after another."""
        if problems := self.problems():
            raise ImproperlyConfigured("; ".join(problem.message for problem in problems))

    def problems(self) -> list[Problem]:
        """Return every setting that breaks a rule, in field order, with the rule's check id.

        A setting reports the first rule it breaks, its type before the ``RULES``, since
        each rule assumes the ones before it hold.
        """
        found = []
        for field in fields(self):
            value = getattr(self, field.name)
            expected = type(field.default)
            if not _is_a(value, expected):
                says = f"must be a {expected.__name__}"
                found.append(Problem(TYPE_RULE_ID, _describe(field.name, value, says)))
                continue
            for rule in RULES:
                if field.name in rule.fields and not rule.holds(value):
                    shown = rule.shows(value)
                    found.append(Problem(rule.id, _describe(field.name, shown, rule.says)))
                    break
        return found

    def model_for(self, requested: str | None, default: str | None = None) -> str:
        """The model a client asked for if the allow-list names it (or it is the
        ``default``: the session's agent's model, else ``REALTIME_MODEL``), else the default.

        The allow-list serves both APIs: a Live session (``default`` a Live model, such as
        ``REALTIME_LIVE_MODEL``) takes only the Live models it names, a Realtime session only
        the others, as each API refuses the other's models (``invalid_model``)."""
        default = default or self.model
        if (
            requested
            and pricing.is_live_model(requested) == pricing.is_live_model(default)
            and (requested == default or requested in self.allowed_models)
        ):
            return requested
        return default

    def session_config(self) -> dict[str, Any]:
        """The GA session object the settings ask for, with no agent chosen (mint body and
        unified calls): ``realtime.agents.Profile.session_config``."""
        from realtime.agents import Profile  # imports the models and the project's tools

        return Profile.from_settings(self).session_config()


SETTING_NAMES = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "model": "REALTIME_MODEL",
    "live": "REALTIME_LIVE",
    "live_model": "REALTIME_LIVE_MODEL",
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
    "server_tools": "REALTIME_SERVER_TOOLS",
    "tool_timeout": "REALTIME_TOOL_TIMEOUT",
    "allowed_models": "REALTIME_ALLOWED_MODELS",
    "lock_session": "REALTIME_LOCK_SESSION",
    "proxy_client_events": "REALTIME_PROXY_CLIENT_EVENTS",
    "proxy_max_frame_bytes": "REALTIME_PROXY_MAX_FRAME_BYTES",
    "proxy_max_messages_per_second": "REALTIME_PROXY_MAX_MESSAGES_PER_SECOND",
    "proxy_idle_timeout": "REALTIME_PROXY_IDLE_TIMEOUT",
    "proxy_max_session_seconds": "REALTIME_PROXY_MAX_SESSION_SECONDS",
    "proxy_max_sessions_per_user": "REALTIME_PROXY_MAX_SESSIONS_PER_USER",
    "proxy_send_timeout": "REALTIME_PROXY_SEND_TIMEOUT",
    "shutdown_grace": "REALTIME_SHUTDOWN_GRACE",
    "record_conversations": "REALTIME_RECORD_CONVERSATIONS",
    "sideband": "REALTIME_SIDEBAND",
    "sideband_idle_timeout": "REALTIME_SIDEBAND_IDLE_TIMEOUT",
    "store_transcripts": "REALTIME_STORE_TRANSCRIPTS",
    "retention_days": "REALTIME_RETENTION_DAYS",
    "prices": "REALTIME_PRICES",
    "metrics_token": "REALTIME_METRICS_TOKEN",
    "database_threads": "REALTIME_DATABASE_THREADS",
}


class Problem(NamedTuple):
    """A setting that breaks a rule: the rule's system check id and a message naming it."""

    id: str
    message: str


class Rule(NamedTuple):
    """What the values of some fields must do, and the check id reported when one does not."""

    id: str
    fields: tuple[str, ...]
    holds: Callable[[Any], bool]
    says: str
    # What the message shows of a value that breaks the rule: by default the value itself.
    shows: Callable[[Any], Any] = lambda value: value


def _is_a(value: Any, expected: type) -> bool:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return True
    return type(value) is expected


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _other_than_function_tools(tools: tuple[Any, ...]) -> list[Any]:
    return [
        tool
        for tool in tools
        if not (
            isinstance(tool, dict)
            and tool.get("type") == "function"
            and isinstance(tool.get("name"), str)
            and tool["name"]
        )
    ]


def _unknown_event_types(events: tuple[str, ...]) -> list[str]:
    return sorted(set(events) - set(CLIENT_EVENT_TYPES))


def _emulator_missing() -> list[str]:
    from realtime.emulator import missing_packages  # plain data: imports none of them

    return missing_packages()


# Every field's value must have its default's type (an int will do for a float).
TYPE_RULE_ID = "realtime.E001"
# realtime.E002 and realtime.W002 are the retiring-models check's (realtime/checks.py),
# realtime.E018 the server tools' (realtime/tools/registry.py).
RULES = (
    Rule(
        "realtime.E003",
        ("openai_api_key",),
        lambda key: not key.startswith("ek_"),
        "must be a server key (sk-…), not an ephemeral client secret",
    ),
    Rule(
        "realtime.E004",
        ("openai_base_url",),
        _is_http_url,
        "must be an http(s) URL ending in /v1",
    ),
    Rule(
        "realtime.E005",
        ("model",),
        lambda model: bool(model) and not pricing.is_live_model(model),
        "must name a realtime model (a GPT-Live model goes in REALTIME_LIVE_MODEL)",
    ),
    Rule(
        "realtime.E006",
        ("secret_ttl",),
        lambda ttl: SECRET_TTL_RANGE[0] <= ttl <= SECRET_TTL_RANGE[1],
        "must be {}..{} seconds".format(*SECRET_TTL_RANGE),
    ),
    Rule(
        "realtime.E007",
        ("transport",),
        lambda transport: transport in TRANSPORTS,
        f"must be one of {', '.join(TRANSPORTS)}",
    ),
    Rule(
        "realtime.E008",
        ("webrtc_flow",),
        lambda flow: flow in WEBRTC_FLOWS,
        f"must be one of {', '.join(WEBRTC_FLOWS)}",
    ),
    Rule(
        "realtime.E009",
        (
            "connect_timeout",
            "read_timeout",
            "proxy_idle_timeout",
            "proxy_max_session_seconds",
            "proxy_send_timeout",
            "shutdown_grace",
            "sideband_idle_timeout",
            "tool_timeout",
        ),
        lambda seconds: seconds > 0,
        "must be a positive number of seconds",
    ),
    Rule(
        "realtime.E010",
        ("rate_limit", "retention_days"),
        lambda limit: limit >= 0,
        "must be 0 (off) or more",
    ),
    Rule(
        "realtime.E011",
        (
            "rate_limit_window",
            "proxy_max_frame_bytes",
            "proxy_max_messages_per_second",
            "proxy_max_sessions_per_user",
            "database_threads",
        ),
        lambda number: number >= 1,
        "must be 1 or more",
    ),
    Rule("realtime.E012", ("error_body_limit",), lambda limit: limit >= 256, "must be 256 or more"),
    Rule(
        "realtime.E013",
        ("tools",),
        lambda tools: not _other_than_function_tools(tools),
        'must be function tools: {"type": "function", "name": …}',
        shows=lambda tools: _other_than_function_tools(tools)[0],
    ),
    Rule(
        "realtime.E014",
        ("allowed_models", "proxy_client_events", "server_tools"),
        lambda names: all(isinstance(name, str) and name for name in names),
        "must be a list of names",
    ),
    Rule(
        "realtime.E015",
        ("proxy_client_events",),
        lambda events: not _unknown_event_types(events),
        "are not realtime client event types",
        shows=lambda events: ",".join(_unknown_event_types(events)),
    ),
    Rule(
        "realtime.E016",
        ("emulator",),
        lambda on: not on or not _emulator_missing(),
        "needs the emulator's packages, which are not installed: "
        "pip install 'voiceproject[emulator]'",
    ),
    Rule(
        "realtime.E017",
        ("prices",),
        lambda prices: not pricing.override_problems(prices),
        "must be prices per 1M tokens: "
        '{"model": …, ' + ", ".join(f'"{name}": …' for name in pricing.PRICE_FIELDS) + "}"
        ', or per minute for a GPT-Live model: {"model": "gpt-live-…", "per_minute": …, '
        '"standby_per_minute": … (optional)}',
        shows=lambda prices: pricing.override_problems(prices)[0],
    ),
    Rule("realtime.E019", ("live_model",), pricing.is_live_model, "must name a GPT-Live model"),
)


def _describe(field_name: str, value: Any, rule: str) -> str:
    shown = "<hidden>" if field_name == "openai_api_key" else repr(value)
    return f"{SETTING_NAMES[field_name]}={shown} {rule}"


@cache
def get_settings() -> RealtimeSettings:
    return RealtimeSettings.from_settings(settings)


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in SETTING_NAMES.values():
        get_settings.cache_clear()
