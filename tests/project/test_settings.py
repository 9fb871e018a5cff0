"""Settings: strict parsing, precedence of sources, validation, and failing at start."""

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime.checks import check_api_middleware, check_sqlite_transactions
from realtime.conf import SETTING_NAMES, RealtimeSettings, get_settings
from voiceproject.environment import ConfigError, Env, read_environment

PROJECT = Path(__file__).resolve().parents[2]


# --- reading the environment ------------------------------------------------------------


def test_the_environment_wins_over_env_local_which_wins_over_env(tmp_path):
    (tmp_path / ".env").write_text("A=from-env\nB=from-env\nC=from-env\n")
    (tmp_path / ".env.local").write_text("A=from-local\nB=from-local\n")

    env = read_environment(tmp_path, {"A": "from-process"})

    assert (env.str("A"), env.str("B"), env.str("C")) == ("from-process", "from-local", "from-env")


def test_env_files_chooses_the_files_and_empty_reads_none(tmp_path):
    (tmp_path / ".env").write_text("A=from-env\n")
    (tmp_path / "custom.env").write_text("A=from-custom\n")

    assert read_environment(tmp_path, {"ENV_FILES": ""}).raw("A") is None
    assert read_environment(tmp_path, {"ENV_FILES": "custom.env"}).str("A") == "from-custom"


def test_reading_dotenv_files_leaves_the_process_environment_alone(tmp_path):
    (tmp_path / ".env").write_text("VOICEPROJECT_TEST_ONLY=1\n")

    read_environment(tmp_path, {})

    assert "VOICEPROJECT_TEST_ONLY" not in os.environ


def test_quoted_values_in_dotenv_files_are_unquoted(tmp_path):
    (tmp_path / ".env").write_text('REALTIME_INSTRUCTIONS="Be brief. Be kind."\n')

    assert read_environment(tmp_path, {}).str("REALTIME_INSTRUCTIONS") == "Be brief. Be kind."


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("On", True), ("1", True), ("false", False), ("no", False), ("0", False)],
)
def test_booleans_accept_the_usual_words(text, value):
    assert Env({"DEBUG": text}).bool("DEBUG", not value) is value


@pytest.mark.parametrize(
    ("reader", "text"),
    [("bool", "yes please"), ("int", "ten"), ("float", "fast"), ("int", "1.5")],
)
def test_malformed_values_raise_a_config_error_naming_the_variable(reader, text):
    with pytest.raises(ConfigError, match="SETTING"):
        getattr(Env({"SETTING": text}), reader)("SETTING", 0)


def test_lists_are_comma_separated_and_trimmed():
    assert Env({"ALLOWED_HOSTS": " a.example , b.example,,"}).list("ALLOWED_HOSTS", []) == [
        "a.example",
        "b.example",
    ]


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (str, " marin ", "marin"),
        (bool, "on", True),
        (int, "42", 42),
        (float, "2.5", 2.5),
        (tuple[str, ...], "a, b,", ["a", "b"]),
        (tuple[dict[str, Any], ...], '[{"type": "function"}]', [{"type": "function"}]),
    ],
)
def test_a_typed_read_uses_the_reader_of_the_type(kind, text, value):
    assert Env({"SETTING": text}).typed("SETTING", kind, kind()) == value


def test_an_unset_tuple_reads_as_a_list_of_its_default():
    assert Env({}).typed("SETTING", tuple[str, ...], ("a",)) == ["a"]
    assert Env({}).typed("SETTING", tuple[dict[str, Any], ...], ()) == []


def test_csrf_origins_need_a_scheme():
    with pytest.raises(ConfigError, match=r"voice\.example\.com"):
        Env({"CSRF_TRUSTED_ORIGINS": "voice.example.com"}).origins("CSRF_TRUSTED_ORIGINS", [])


def test_sqlite_transactions_take_the_write_lock_first_and_wait_for_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    [database] = project_settings(["DATABASES"], DATABASE_URL=url)["DATABASES"].values()

    assert (database["OPTIONS"]["transaction_mode"], database["OPTIONS"]["timeout"]) == (
        "IMMEDIATE",
        20,
    )
    assert check_sqlite_transactions(database=database) == []


def test_postgresql_connections_come_from_a_pool_of_bounded_size():
    url = "postgres://voice@db.internal:5432/voice"
    default = project_settings(["DATABASES"], DATABASE_URL=url)["DATABASES"]["default"]
    sized = project_settings(
        ["DATABASES"], DATABASE_URL=url, DATABASE_POOL_SIZE="4", DATABASE_POOL_TIMEOUT="2.5"
    )["DATABASES"]["default"]

    assert default["ENGINE"] == "django.db.backends.postgresql"
    assert default["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 10, "timeout": 30.0}
    assert sized["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 2.5}
    assert default.get("CONN_MAX_AGE", 0) == 0  # the pool keeps them; Django must not as well


def test_redis_url_shares_the_channel_layer_and_the_cache():
    names = ["CACHES", "CHANNEL_LAYERS"]
    alone = project_settings(names)
    shared = project_settings(names, REDIS_URL="redis://cache.internal:6379/2")

    assert alone["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert alone["CHANNEL_LAYERS"]["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    assert shared["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6379/2",
    }
    assert shared["CHANNEL_LAYERS"]["default"] == {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://cache.internal:6379/2"]},
    }


def test_the_api_middleware_comes_first(settings):
    assert settings.MIDDLEWARE[0] == "realtime.middleware.ApiErrorsMiddleware"
    assert check_api_middleware() == []


def test_database_url_is_parsed_and_a_bad_one_is_refused():
    config = Env({"DATABASE_URL": "postgres://u:p@db.internal:5432/voice"}).database(
        "DATABASE_URL", "sqlite:///x"
    )
    assert (config["ENGINE"], config["NAME"], config["HOST"]) == (
        "django.db.backends.postgresql",
        "voice",
        "db.internal",
    )
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Env({"DATABASE_URL": "nosuchdb://x"}).database("DATABASE_URL", "sqlite:///x")


# --- the realtime app's settings --------------------------------------------------------


def test_defaults_are_the_documented_ones():
    conf = RealtimeSettings()
    conf.validate()
    assert (conf.model, conf.transport, conf.secret_ttl, conf.require_login) == (
        "gpt-realtime-2.1",
        "webrtc",
        600,
        False,
    )
    assert conf.openai_base_url == "https://api.openai.com/v1"
    assert conf.transcription_model == "gpt-transcribe"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret_ttl": 5}, "REALTIME_SECRET_TTL=5 must be 10..7200"),
        ({"secret_ttl": 7201}, "REALTIME_SECRET_TTL=7201"),
        ({"transport": "carrier-pigeon"}, "REALTIME_TRANSPORT"),
        ({"webrtc_flow": "beta"}, "REALTIME_WEBRTC_FLOW"),
        ({"openai_base_url": "api.openai.com/v1"}, "OPENAI_BASE_URL"),
        ({"openai_api_key": "ek_1234567890"}, "not an ephemeral client secret"),
        ({"read_timeout": 0}, "REALTIME_READ_TIMEOUT"),
        ({"rate_limit": -1}, "REALTIME_RATE_LIMIT"),
        ({"rate_limit_window": 0}, "REALTIME_RATE_LIMIT_WINDOW"),
        ({"model": ""}, "REALTIME_MODEL"),
        ({"debug": "yes"}, "REALTIME_DEBUG='yes' must be a bool"),
        ({"tools": ({"type": "mcp"},)}, "REALTIME_TOOLS"),
        ({"allowed_models": ("",)}, "REALTIME_ALLOWED_MODELS"),
        ({"lock_session": "on"}, "REALTIME_LOCK_SESSION"),
        ({"proxy_client_events": ("session.delete",)}, "REALTIME_PROXY_CLIENT_EVENTS"),
        ({"proxy_max_frame_bytes": 0}, "REALTIME_PROXY_MAX_FRAME_BYTES"),
        ({"proxy_max_messages_per_second": 0}, "REALTIME_PROXY_MAX_MESSAGES_PER_SECOND"),
        ({"proxy_idle_timeout": 0}, "REALTIME_PROXY_IDLE_TIMEOUT"),
        ({"proxy_max_session_seconds": -1}, "REALTIME_PROXY_MAX_SESSION_SECONDS"),
        ({"proxy_max_sessions_per_user": 0}, "REALTIME_PROXY_MAX_SESSIONS_PER_USER"),
        ({"proxy_send_timeout": 0}, "REALTIME_PROXY_SEND_TIMEOUT"),
    ],
)
def test_invalid_realtime_settings_name_the_setting(changes, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        RealtimeSettings(**changes).validate()


def test_list_settings_may_be_lists_and_are_kept_as_tuples(settings):
    settings.REALTIME_ALLOWED_MODELS = ["gpt-realtime-mini"]
    settings.REALTIME_TOOLS = [{"type": "function", "name": "get_weather"}]

    conf = get_settings()

    assert conf.allowed_models == ("gpt-realtime-mini",)
    assert conf.tools == ({"type": "function", "name": "get_weather"},)


def test_a_client_may_choose_only_an_allowed_model():
    conf = RealtimeSettings(allowed_models=("gpt-realtime-mini",))

    assert conf.model_for("gpt-realtime-mini") == "gpt-realtime-mini"
    assert conf.model_for("gpt-4o") == "gpt-realtime-2.1"
    assert conf.model_for(None) == "gpt-realtime-2.1"


def test_configured_tools_are_part_of_the_session_config():
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}

    session = RealtimeSettings(tools=(tool,)).session_config()

    assert session["tools"] == [tool]


def test_json_settings_are_parsed_and_bad_json_is_refused():
    assert Env({"REALTIME_TOOLS": '[{"type": "function", "name": "f"}]'}).json(
        "REALTIME_TOOLS", []
    ) == [{"type": "function", "name": "f"}]
    with pytest.raises(ConfigError, match="REALTIME_TOOLS is not valid JSON"):
        Env({"REALTIME_TOOLS": "[{"}).json("REALTIME_TOOLS", [])


def test_an_invalid_server_key_is_never_shown_in_the_error():
    with pytest.raises(ImproperlyConfigured) as raised:
        RealtimeSettings(openai_api_key="ek_secretvalue123").validate()

    assert "secretvalue" not in str(raised.value)


def test_overridden_django_settings_are_seen_by_the_app(settings):
    settings.REALTIME_MODEL = "gpt-realtime-2"

    assert get_settings().model == "gpt-realtime-2"


def test_the_session_config_is_the_ga_shape(settings):
    settings.REALTIME_TRANSCRIPTION_MODEL = ""

    session = get_settings().session_config()

    assert session == {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "instructions": get_settings().instructions,
        "audio": {"output": {"voice": "marin"}},
    }


def test_the_system_check_reports_invalid_settings(settings):
    from realtime.checks import check_realtime_settings

    settings.REALTIME_TRANSPORT = "smoke-signals"

    errors = check_realtime_settings()

    assert [error.id for error in errors] == ["realtime.E007"]


# --- starting the project ---------------------------------------------------------------

# Values the rules constrain, or that the project tidies: as the environment spells them, and
# as the settings module holds them.
CONSTRAINED = {
    "OPENAI_BASE_URL": ("http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1"),
    "REALTIME_TRANSPORT": ("WebSocket", "websocket"),
    "REALTIME_WEBRTC_FLOW": ("Ephemeral", "ephemeral"),
    "REALTIME_TOOLS": ('[{"type": "function", "name": "f"}]', [{"type": "function", "name": "f"}]),
    "REALTIME_PROXY_CLIENT_EVENTS": (
        "session.update, response.create",
        ["session.update", "response.create"],
    ),
    "REALTIME_PRICES": (
        '[{"model": "m", "text_input": 1, "cached_text_input": 0, "audio_input": 2, '
        '"cached_audio_input": 0, "text_output": 3, "audio_output": 4}]',
        [
            {
                "model": "m",
                "text_input": 1,
                "cached_text_input": 0,
                "audio_input": 2,
                "cached_audio_input": 0,
                "text_output": 3,
                "audio_output": 4,
            }
        ],
    ),
}


def other_than(default: Any) -> tuple[str, Any]:
    """Return a value of the default's type other than it: as spelled, and as read."""
    if isinstance(default, bool):
        return ("false" if default else "true"), not default
    if isinstance(default, int):
        return str(default + 1), default + 1
    if isinstance(default, float):
        return str(default + 0.5), default + 0.5
    if isinstance(default, str):
        return f" {default}-2 ", f"{default}-2"
    return "a, b", ["a", "b"]


def load_project(**environment: str) -> dict[str, Any]:
    """Import the project's settings in a new process with exactly this environment; return
    the app's settings as the settings module holds them."""
    return project_settings(list(SETTING_NAMES.values()), **environment)


def project_settings(names: list[str], **environment: str) -> dict[str, Any]:
    """The settings ``names`` as the project's settings module holds them, imported in a new
    process with exactly this environment."""
    code = (
        "import json, sys, voiceproject.settings as s; "
        f"json.dump({{name: getattr(s, name) for name in {names!r}}}, sys.stdout)"
    )
    env = {"PATH": os.environ["PATH"], "ENV_FILES": "", "SECRET_KEY": "x" * 50, **environment}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_app_setting_is_read_from_the_environment_by_its_default_type():
    spelled, expected = {}, {}
    for field in fields(RealtimeSettings):
        name = SETTING_NAMES[field.name]
        spelled[name], expected[name] = CONSTRAINED.get(name) or other_than(field.default)

    assert load_project(**spelled) == expected


def test_an_empty_environment_gives_the_apps_defaults():
    loaded = load_project()

    assert loaded == {
        SETTING_NAMES[field.name]: list(field.default)
        if isinstance(field.default, tuple)
        else field.default
        for field in fields(RealtimeSettings)
    }


@pytest.mark.parametrize(
    ("environment", "implied"),
    [
        ({"DEBUG": "true"}, True),
        ({"DEBUG": "true", "OPENAI_API_KEY": "sk-test"}, False),
        ({"DEBUG": "false"}, False),
        ({"DEBUG": "true", "REALTIME_EMULATOR": "false"}, False),
    ],
)
def test_the_emulator_is_implied_only_in_development_without_a_key(environment, implied):
    assert load_project(**environment)["REALTIME_EMULATOR"] is implied


def start_project(**environment: str) -> subprocess.CompletedProcess:
    """Run `manage.py check` as an operator would, with exactly this environment."""
    env = {"PATH": os.environ["PATH"], "ENV_FILES": "", **environment}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_starting_with_debug_off_and_no_secret_key_fails_with_one_clear_line():
    result = start_project(DEBUG="false")

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "voiceproject: configuration error: SECRET_KEY is required when DEBUG is off: set it "
        "in the environment or .env.local (or set DEBUG=true for local development)"
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REALTIME_SECRET_TTL", "ten minutes"),
        ("REALTIME_SECRET_TTL", "99999"),
        ("DEBUG", "maybe"),
        ("REALTIME_TRANSPORT", "smoke"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("REDIS_URL", "cache.internal:6379"),
        ("LOG_FORMAT", "xml"),
        ("REALTIME_TOOLS", "not json"),
        ("REALTIME_PROXY_IDLE_TIMEOUT", "-5"),
    ],
)
def test_starting_with_a_malformed_setting_fails_with_one_line_naming_it(variable, value):
    result = start_project(SECRET_KEY="x" * 50, **{variable: value})

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voiceproject: configuration error:")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_starting_with_valid_settings_passes_the_checks():
    result = start_project(SECRET_KEY="x" * 50, OPENAI_API_KEY="sk-test-server-key")

    assert result.returncode == 0, result.stderr


def test_start_up_names_every_bad_setting():
    result = start_project(
        SECRET_KEY="x" * 50,
        REALTIME_SECRET_TTL="ten minutes",
        REALTIME_TRANSPORT="smoke",
        REALTIME_PROXY_IDLE_TIMEOUT="-5",
    )

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "voiceproject: configuration error: "
        "REALTIME_SECRET_TTL='ten minutes' is not a whole number; "
        "REALTIME_TRANSPORT='smoke' must be one of webrtc, websocket; "
        "REALTIME_PROXY_IDLE_TIMEOUT=-5.0 must be a positive number of seconds"
    ]
