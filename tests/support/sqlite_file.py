"""The suites' SQLite test database: a file in a folder of its own, removed at exit.

Django would otherwise test on an in-memory database in shared-cache mode, where a read that
meets another connection's open write fails at once ("database table is locked"): the app's
database threads, a sideband and a view touch the same tables at the same moment, and such
a test failed now and then. On a file in WAL mode a reader sees the last commit and a writer
waits its turn (``timeout``), as on the SQLite production runs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any


def sqlite_test_database(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``DATABASES`` entry whose test database is a file in a new temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="voiceproject-tests-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(folder / "db.sqlite3"),
        "TEST": {"NAME": str(folder / "test.sqlite3")},
        "OPTIONS": {
            **(options or {}),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # The data is thrown away: no fsync.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
        },
    }
