"""Settings for voiceproject, read from the environment, then .env.local, then .env.

Every variable is listed in .env.example and in the README's configuration table. The realtime
app's (``realtime.conf.SETTING_NAMES``) are read in one loop, each as its field's type says.
A missing or malformed value stops the process with one line naming it, or every bad app
setting (see the ``except`` at the end).
"""

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, get_type_hints

from django.core.exceptions import ImproperlyConfigured

from realtime import conf
from realtime.conf import RealtimeSettings
from voiceproject.environment import ConfigError, Env, read_environment

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
    "csp",
    "realtime",
]

# Under an ASGI server voiceproject.asgi loads Django's middleware here as their versions in
# voiceproject.middleware, which run their hooks on the event loop instead of each through
# a thread; the names stay Django's, which its deploy checks look for.
MIDDLEWARE = [
    # First: it answers the API's requests that the middleware below would refuse in HTML.
    "realtime.middleware.ApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Permissions-Policy: the page may use the microphone, from its own origin only.
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # LOG_FORMAT=json: one object a line, the bound request and session fields
        # (realtime.logcontext) and each event's outcome and durations as keys.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {"realtime_context": {"()": "realtime.logcontext.ContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["realtime_context"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Replaces Django's default DEBUG-only console handler, which would print twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "realtime": {"level": "INFO"},
        "daphne.server": {"level": "INFO"},  # "Listening on TCP address …" at start
    },
}


def _read_app_settings(env: Env, defaults: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Read each of the app's settings from the variable of its name, as its field's type says.

    Return the settings that could be read, by setting name, and why the others could not.
    A field's default is the app's, unless ``defaults`` has the project's.
    """
    # Spelling that does not matter: a trailing slash, letter case.
    tidy = {
        "openai_base_url": lambda url: url.rstrip("/"),
        "transport": str.lower,
        "webrtc_flow": str.lower,
    }
    types = get_type_hints(RealtimeSettings)
    values, unreadable = {}, []
    for field in fields(RealtimeSettings):
        name = conf.SETTING_NAMES[field.name]
        try:
            value = env.typed(name, types[field.name], defaults.get(field.name, field.default))
        except ConfigError as error:
            unreadable.append(str(error))
            continue
        values[name] = tidy[field.name](value) if field.name in tidy else value
    return values, unreadable


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

    # Secure by default once DEBUG is off (`manage.py check --deploy` is clean); each can be
    # turned down from the environment, e.g. SECURE_SSL_REDIRECT=false on plain-http
    # loopback. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER=true trusts its
    # X-Forwarded-Proto (set it only when the proxy always sets that header).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's probe may come over http
    if env.bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", not DEBUG)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
    SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", "same-origin")
    X_FRAME_OPTIONS = env.str("X_FRAME_OPTIONS", "DENY")
    # What browser features pages may use: the microphone from this origin (the page's
    # voice chat), nothing else of the sensitive ones; a JSON object replaces it.
    PERMISSIONS_POLICY = env.json(
        "PERMISSIONS_POLICY",
        {
            "microphone": ["self"],
            "camera": [],
            "geolocation": [],
            "payment": [],
            "usb": [],
            "display-capture": [],
        },
    )

    # Several processes share one Redis: the channel layer carries messages between them
    # (ending a session another process holds) and the cache holds the rate limits and the
    # per-user session counts, so each limit is one for all. One process needs neither.
    REDIS_URL = env.str("REDIS_URL", "")
    if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            "REDIS_URL must be a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0"
        )
    if REDIS_URL:
        CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            }
        }
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL]},
            }
        }
    else:
        CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    # Static files: in production WhiteNoise serves what `collectstatic` gathered into
    # STATIC_ROOT (`make run-prod` runs it), compressed and under hashed names cached for a
    # year; in development, the files themselves, as they change.
    STATIC_ROOT = Path(env.str("STATIC_ROOT") or BASE_DIR / "staticfiles")
    if not DEBUG:
        # Before anything else spends time on a static file (WhiteNoise's advice); its
        # middleware made async, so that the rest of the chain stays async. In
        # development the app serves the files as they change (voiceproject.asgi).
        MIDDLEWARE.insert(
            MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
            "voiceproject.static.AsyncWhiteNoiseMiddleware",
        )
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "voiceproject.static.HashedStaticFiles"
        },
    }

    # Content-Security-Policy: scripts, styles and connections from this origin only (the
    # page has no inline script or style, the admin neither); a JSON object of directives
    # replaces it. Sent in development too, so the page is always tested under it.
    CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": env.json(
            "CONTENT_SECURITY_POLICY",
            {
                "default-src": ["'self'"],
                "script-src": ["'self'"],
                "style-src": ["'self'"],
                "img-src": ["'self'", "data:"],
                "connect-src": ["'self'"],
                "media-src": ["'self'", "blob:"],
                "object-src": ["'none'"],
                "base-uri": ["'self'"],
                "form-action": ["'self'"],
                "frame-ancestors": ["'none'"],
            },
        )
    }

    DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {
                # WAL lets admin reads run beside the relay's writes; NORMAL sync is safe
                # with WAL.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                # Every transaction takes the write lock as it begins, and waits up to
                # `timeout` seconds for it: a transaction that reads first would instead
                # fail at once with "database is locked" when many requests write together.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Each in-flight async request runs its database work on a thread of its own, and
        # each thread would open its own connection: 200 at once on two processes pass
        # PostgreSQL's max_connections (100). Django's psycopg pool bounds them per process;
        # a request that finds the pool busy waits up to DATABASE_POOL_TIMEOUT seconds.
        pool = {
            "min_size": 1,
            "max_size": env.int("DATABASE_POOL_SIZE", 10),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", 30.0),
        }
        if pool["max_size"] < 1 or pool["timeout"] <= 0:
            raise ImproperlyConfigured(
                "DATABASE_POOL_SIZE must be 1 or more and DATABASE_POOL_TIMEOUT above 0"
            )
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = pool

    LOG_FORMAT = env.str("LOG_FORMAT", "plain").lower()
    if LOG_FORMAT not in LOGGING["formatters"]:
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
    LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT

    # With no key in development, talk to the offline emulator, which the app serves inside
    # this same process. Never implied with DEBUG off: a production server without a key
    # answers 503 server_not_configured instead of faking a model.
    app_settings, problems = _read_app_settings(
        env, {"emulator": DEBUG and not env.str("OPENAI_API_KEY")}
    )
    globals().update(app_settings)  # OPENAI_API_KEY, REALTIME_MODEL, …
    try:
        RealtimeSettings.from_settings(sys.modules[__name__])
    except ImproperlyConfigured as invalid:
        problems.append(str(invalid))
    if problems:
        # Every bad app setting at once, the unreadable ones first.
        raise ImproperlyConfigured("; ".join(problems))
except ImproperlyConfigured as error:
    # One clear line instead of a traceback: this runs before any server or command starts.
    raise SystemExit(f"voiceproject: configuration error: {error}") from None
