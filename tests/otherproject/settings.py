"""A plain Django project's settings, with the realtime app added as the README says.

Everything outside the README's lines is what `django-admin startproject` would write,
trimmed; the test that serves it passes the upstream and the database in the environment.
"""

import os

SECRET_KEY = "other-project-secret-key-for-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "realtime",
]
ASGI_APPLICATION = "tests.otherproject.asgi.application"
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")

MIDDLEWARE = [
    # First: the realtime API's requests that Django would refuse in HTML get its JSON.
    "realtime.middleware.ApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "tests.otherproject.urls"
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["OTHER_PROJECT_DB"],
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
STATIC_URL = "static/"
USE_TZ = True
# Where the test's emulator listens (production leaves OpenAI's default).
OPENAI_BASE_URL = os.environ["OPENAI_BASE_URL"]
