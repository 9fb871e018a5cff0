"""Settings for voiceproject, read from the environment, then .env.local, then .env.

Every variable is listed in .env.example and in the README's configuration table. A missing
or malformed value stops the process with one line naming it (see the ``except`` at the end).
"""

import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from realtime.conf import RealtimeSettings
from voiceproject.environment import read_environment

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "daphne",  # first, so `manage.py runserver` serves ASGI (HTTP and WebSocket)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "voiceproject.urls"
ASGI_APPLICATION = "voiceproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"

# One process-local cache is enough for the rate limiter on a single daphne process;
# point CACHES at Redis or Memcached when running several.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Replaces Django's default DEBUG-only console handler, which would print twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "realtime": {"level": "INFO"},
        "daphne.server": {"level": "INFO"},  # "Listening on TCP address …" at start
    },
}

env = read_environment(BASE_DIR)

try:
    DEBUG = env.bool("DEBUG", False)
    SECRET_KEY = env.str("SECRET_KEY")
    if not SECRET_KEY:
        if not DEBUG:
            raise ImproperlyConfigured(
                "SECRET_KEY is required when DEBUG is off: set it in the environment or "
                ".env.local (or set DEBUG=true for local development)"
            )
        SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - DEBUG only
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
    CSRF_TRUSTED_ORIGINS = env.origins("CSRF_TRUSTED_ORIGINS", [])

    DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets admin reads run beside the relay's writes; NORMAL sync is safe with WAL.
        DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        )

    OPENAI_API_KEY = env.str("OPENAI_API_KEY")
    OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", RealtimeSettings.openai_base_url).rstrip("/")
    # With no key in development, talk to the offline emulator, which the app serves inside
    # this same process. Never implied with DEBUG off: a production server without a key
    # answers 503 server_not_configured instead of faking a model.
    REALTIME_EMULATOR = env.bool("REALTIME_EMULATOR", DEBUG and not OPENAI_API_KEY)
    REALTIME_MODEL = env.str("REALTIME_MODEL", RealtimeSettings.model)
    REALTIME_VOICE = env.str("REALTIME_VOICE", RealtimeSettings.voice)
    REALTIME_INSTRUCTIONS = env.str("REALTIME_INSTRUCTIONS", RealtimeSettings.instructions)
    REALTIME_TRANSCRIPTION_MODEL = env.str(
        "REALTIME_TRANSCRIPTION_MODEL", RealtimeSettings.transcription_model
    )
    REALTIME_SECRET_TTL = env.int("REALTIME_SECRET_TTL", RealtimeSettings.secret_ttl)
    REALTIME_TRANSPORT = env.str("REALTIME_TRANSPORT", RealtimeSettings.transport).lower()
    REALTIME_WEBRTC_FLOW = env.str("REALTIME_WEBRTC_FLOW", RealtimeSettings.webrtc_flow).lower()
    REALTIME_DEBUG = env.bool("REALTIME_DEBUG", RealtimeSettings.debug)
    REALTIME_REQUIRE_LOGIN = env.bool("REALTIME_REQUIRE_LOGIN", RealtimeSettings.require_login)
    REALTIME_CONNECT_TIMEOUT = env.float(
        "REALTIME_CONNECT_TIMEOUT", RealtimeSettings.connect_timeout
    )
    REALTIME_READ_TIMEOUT = env.float("REALTIME_READ_TIMEOUT", RealtimeSettings.read_timeout)
    REALTIME_RATE_LIMIT = env.int("REALTIME_RATE_LIMIT", RealtimeSettings.rate_limit)
    REALTIME_RATE_LIMIT_WINDOW = env.int(
        "REALTIME_RATE_LIMIT_WINDOW", RealtimeSettings.rate_limit_window
    )
    REALTIME_ERROR_BODY_LIMIT = env.int(
        "REALTIME_ERROR_BODY_LIMIT", RealtimeSettings.error_body_limit
    )
    REALTIME_TOOLS = env.json("REALTIME_TOOLS", [])
    REALTIME_ALLOWED_MODELS = env.list("REALTIME_ALLOWED_MODELS", [])
    REALTIME_LOCK_SESSION = env.bool("REALTIME_LOCK_SESSION", RealtimeSettings.lock_session)
    REALTIME_PROXY_CLIENT_EVENTS = env.list(
        "REALTIME_PROXY_CLIENT_EVENTS", list(RealtimeSettings.proxy_client_events)
    )
    REALTIME_PROXY_MAX_FRAME_BYTES = env.int(
        "REALTIME_PROXY_MAX_FRAME_BYTES", RealtimeSettings.proxy_max_frame_bytes
    )
    REALTIME_PROXY_MAX_MESSAGES_PER_SECOND = env.int(
        "REALTIME_PROXY_MAX_MESSAGES_PER_SECOND", RealtimeSettings.proxy_max_messages_per_second
    )
    REALTIME_PROXY_IDLE_TIMEOUT = env.float(
        "REALTIME_PROXY_IDLE_TIMEOUT", RealtimeSettings.proxy_idle_timeout
    )
    REALTIME_PROXY_MAX_SESSION_SECONDS = env.float(
        "REALTIME_PROXY_MAX_SESSION_SECONDS", RealtimeSettings.proxy_max_session_seconds
    )
    REALTIME_PROXY_MAX_SESSIONS_PER_USER = env.int(
        "REALTIME_PROXY_MAX_SESSIONS_PER_USER", RealtimeSettings.proxy_max_sessions_per_user
    )
    REALTIME_PROXY_SEND_TIMEOUT = env.float(
        "REALTIME_PROXY_SEND_TIMEOUT", RealtimeSettings.proxy_send_timeout
    )
    RealtimeSettings.from_settings(sys.modules[__name__])
except ImproperlyConfigured as error:
    # One clear line instead of a traceback: this runs before any server or command starts.
    raise SystemExit(f"voiceproject: configuration error: {error}") from None
