"""The realtime app's own tests: the app and what it depends on, nothing of voiceproject.

As django-cors-headers tests itself: a settings module of a few lines, so the app is proved
to work without the example project around it.
"""

import os

from tests.support.sqlite_file import sqlite_test_database

SECRET_KEY = "app-tests-secret-key-not-for-production"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "realtime",
]
MIDDLEWARE = [
    "realtime.middleware.ApiErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.app_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
if os.environ.get("TEST_DATABASE_URL"):  # `make test-postgres`: its throwaway cluster
    import environ

    DATABASES = {"default": environ.Env.db_url_config(os.environ["TEST_DATABASE_URL"])}
else:
    DATABASES = {"default": sqlite_test_database()}  # a file (tests/support/sqlite_file.py)
STATIC_URL = "static/"
USE_TZ = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
