"""Settings for the test suite: voiceproject's own, read from a clean environment.

No dotenv file is read and no OPENAI_/REALTIME_ variable leaks in from the shell, so a
developer's .env.local (with a real key) never reaches a test.
"""

import os

for name in list(os.environ):
    if name.startswith(("OPENAI_", "REALTIME_", "DATABASE_URL")):
        del os.environ[name]
os.environ["ENV_FILES"] = ""
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ["DEBUG"] = "false"

from voiceproject.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
