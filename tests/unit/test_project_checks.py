"""The app's checks of the project around it: the API's middleware comes first, and SQLite
transactions wait for their turn."""

import pytest
from django.middleware.common import CommonMiddleware

from realtime.checks import API_MIDDLEWARE, check_api_middleware, check_sqlite_transactions

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}


class ProjectCommonMiddleware(CommonMiddleware):
    """A project's own version of Django's (voiceproject's runs its hooks inline)."""


def test_the_api_middleware_ahead_of_djangos_passes(settings):
    settings.MIDDLEWARE = [
        "corsheaders.middleware.CorsMiddleware",  # one that never answers may come first
        API_MIDDLEWARE,
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]

    assert check_api_middleware() == []


@pytest.mark.parametrize(
    "middleware",
    [
        ["django.middleware.common.CommonMiddleware"],
        ["django.middleware.common.CommonMiddleware", API_MIDDLEWARE],
        [f"{__name__}.ProjectCommonMiddleware", API_MIDDLEWARE],
    ],
)
def test_the_api_middleware_missing_or_behind_djangos_is_a_warning(settings, middleware):
    settings.MIDDLEWARE = middleware

    [warning] = check_api_middleware()

    assert warning.id == "realtime.W004"


def test_sqlite_without_immediate_transactions_is_a_warning():
    [warning] = check_sqlite_transactions(database=SQLITE)

    assert warning.id == "realtime.W003"
    assert '"transaction_mode": "IMMEDIATE"' in warning.hint


@pytest.mark.parametrize(
    "database",
    [
        {**SQLITE, "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}},
        {"ENGINE": "django.db.backends.postgresql", "NAME": "voice"},
    ],
)
def test_immediate_sqlite_and_other_databases_pass(database):
    assert check_sqlite_transactions(database=database) == []


def test_the_apps_test_settings_pass_both_checks():
    assert check_api_middleware() + check_sqlite_transactions() == []
