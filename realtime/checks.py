"""System checks (``manage.py check`` and runserver say so): the app's settings are valid, the
models they name are ones OpenAI still serves, and the project keeps every request's record
(the API's middleware, SQLite transactions that wait for their turn).

- ``realtime.E001``: a setting does not have its default's type (``REALTIME_DEBUG='yes'``).
- ``realtime.E003`` to ``realtime.E017`` and ``realtime.E019``: a setting breaks the rule of
  that id in ``realtime.conf.RULES``; each setting reports the first rule it breaks.
- ``realtime.E018``: a ``REALTIME_SERVER_TOOLS`` entry cannot be a tool (its path does not
  import, its name is taken, a parameter has no type hint or one pydantic cannot describe).
- ``realtime.W002``: a configured model has an announced shutdown ahead.
- ``realtime.E002``: a configured model is past its announced shutdown.
- ``realtime.W003``: the default database is SQLite without IMMEDIATE transactions.
- ``realtime.W004``: ``ApiErrorsMiddleware`` is missing from MIDDLEWARE, or comes after
  Django's own.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

from realtime import retirements
from realtime.conf import SETTING_NAMES, RealtimeSettings, get_settings
from realtime.tools import registry


@register()
def check_realtime_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Report each setting that breaks a rule as its own error, with the rule's id."""
    return [
        Error(problem.message, id=problem.id)
        for problem in RealtimeSettings.read(settings).problems()
    ]


@register()
def check_server_tools(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Report each server tool that cannot be one, naming its entry."""
    try:
        conf = RealtimeSettings.from_settings(settings)
    except ImproperlyConfigured:
        return []  # check_realtime_settings says why
    declared = [tool["name"] for tool in conf.tools]
    _, problems = registry.load(conf.server_tools, declared)
    return [
        Error(
            f"REALTIME_SERVER_TOOLS entry {path!r} {message}",
            hint="Name a documented function with a type hint on every parameter "
            "(the README's 'Give the assistant tools').",
            id=registry.CHECK_ID,
        )
        for path, message in problems
    ]


@register()
def check_retiring_models(
    app_configs: Any = None, *, today: date | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Warn about each configured model with an announced shutdown; past it, an error."""
    try:
        conf = RealtimeSettings.from_settings(settings)
    except ImproperlyConfigured:
        return []  # check_realtime_settings says why
    hint = f"See {retirements.DEPRECATIONS_URL}"
    return [
        Error(f"{setting}: {notice}", hint=hint, id="realtime.E002")
        if notice.shut_down
        else Warning(f"{setting}: {notice}", hint=hint, id="realtime.W002")
        for setting, notice in model_notices(conf, today)
    ]


def model_notices(
    conf: RealtimeSettings | None = None, today: date | None = None
) -> list[tuple[str, retirements.Notice]]:
    """Return each model the settings name (REALTIME_MODEL, REALTIME_LIVE_MODEL while
    REALTIME_LIVE is on, REALTIME_TRANSCRIPTION_MODEL and every REALTIME_ALLOWED_MODELS
    entry) that OpenAI retires, with its setting and notice."""
    conf = conf or get_settings()
    named = [
        (SETTING_NAMES["model"], conf.model),
        # Off, nothing uses the Live model: its shutdown must not stop runserver.
        *([(SETTING_NAMES["live_model"], conf.live_model)] if conf.live else []),
        (SETTING_NAMES["transcription_model"], conf.transcription_model),
        *((SETTING_NAMES["allowed_models"], model) for model in conf.allowed_models),
    ]
    return [
        (setting, notice)
        for setting, model in named
        if (notice := retirements.notice_for(model, today)) is not None
    ]


API_MIDDLEWARE = "realtime.middleware.ApiErrorsMiddleware"
# Django's middleware that may answer a request to the API before its view, in HTML (and
# their subclasses).
ANSWERING_MIDDLEWARE = (SecurityMiddleware, CommonMiddleware, CsrfViewMiddleware)


def _answers_itself(path: str) -> bool:
    try:
        middleware = import_string(path)
    except ImportError:
        return False
    return isinstance(middleware, type) and issubclass(middleware, ANSWERING_MIDDLEWARE)


@register()
def check_api_middleware(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn unless ``ApiErrorsMiddleware`` comes before Django's middleware that answers on
    its own (a Host outside ALLOWED_HOSTS would get an HTML 400 and leave no row)."""
    middleware = list(settings.MIDDLEWARE)
    if API_MIDDLEWARE in middleware and not any(
        _answers_itself(name) for name in middleware[: middleware.index(API_MIDDLEWARE)]
    ):
        return []
    return [
        Warning(
            f"{API_MIDDLEWARE} is not in MIDDLEWARE ahead of Django's own: requests to the "
            "realtime API that Django refuses get HTML and leave no record.",
            hint=f"List {API_MIDDLEWARE!r} first in MIDDLEWARE.",
            id="realtime.W004",
        )
    ]


# Not tagged "database": it reads settings only, and database checks run only on request.
@register()
def check_sqlite_transactions(
    app_configs: Any = None, *, database: dict[str, Any] | None = None, **kwargs: Any
) -> list[Warning]:
    """Warn when the default database is SQLite without IMMEDIATE transactions: under
    concurrent requests a transaction that reads before it writes fails at once with
    "database is locked" instead of waiting for its turn."""
    if database is None:
        database = settings.DATABASES.get("default", {})
    options = database.get("OPTIONS", {})
    if (
        database.get("ENGINE") != "django.db.backends.sqlite3"
        or str(options.get("transaction_mode", "")).upper() == "IMMEDIATE"
    ):
        return []
    return [
        Warning(
            "The default database is SQLite without IMMEDIATE transactions: concurrent "
            'requests can fail with "database is locked" and their records be lost.',
            hint='Set DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", '
            '"timeout": 20}.',
            id="realtime.W003",
        )
    ]
