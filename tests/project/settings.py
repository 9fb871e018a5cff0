"""Settings for the test suite: voiceproject's own, read from a clean environment.

No dotenv file is read and no OPENAI_/REALTIME_ variable leaks in from the shell, so a
developer's .env.local (with a real key) never reaches a test.
"""

import os

for name in list(os.environ):
    if name.startswith(("OPENAI_", "REALTIME_", "DATABASE_URL")):
        del os.environ[name]
if os.environ.get("TEST_DATABASE_URL"):  # `make test-postgres`: its throwaway cluster
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
os.environ["ENV_FILES"] = ""
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ["DEBUG"] = "false"
# The test client speaks plain http: production's redirect to https would answer every
# request with a 301 (tests/project/test_deploy.py checks the secure defaults themselves).
os.environ["SECURE_SSL_REDIRECT"] = "false"

from tests.support.sqlite_file import sqlite_test_database  # noqa: E402
from voiceproject.settings import *  # noqa: E402, F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES = {"default": sqlite_test_database()}  # a file, not shared-cache memory
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
# Production's hashed names need `collectstatic` first; tests/project/test_static_files.py
# collects and serves them under daphne.
STATIC_ROOT = None  # nothing collected: WhiteNoise has no folder to serve
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
