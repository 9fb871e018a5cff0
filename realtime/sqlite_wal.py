"""Hold a SQLite database's write-ahead log open for the life of the server process.

Under an ASGI server Django opens and closes a connection for each database round (its
persistent connections are per thread, and every request has a thread of its own). With
SQLite in WAL mode, closing the last connection to a database checkpoints the log into it
and deletes its ``-wal`` and ``-shm`` files, which the next connection creates again: every
request paid a checkpoint and two file creations (README, "Benchmarks"). While one idle
connection stays open, no other close is the last, and SQLite checkpoints as it does
anyway, every thousand pages. The held connection never reads or writes a table, so it
never holds a lock or a snapshot that would stop a checkpoint.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_held: dict[str, sqlite3.Connection] = {}


def hold_open(databases: dict[str, dict[str, Any]] | None = None) -> None:
    """Open one idle connection to each file-backed SQLite database in WAL mode (of
    ``databases``, by default Django's)."""
    for alias, database in (settings.DATABASES if databases is None else databases).items():
        path = _file_path(database)
        if path is None or alias in _held:
            continue
        try:
            connection = sqlite3.connect(path, check_same_thread=False)
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        except sqlite3.Error:
            logger.warning("could not hold the SQLite database %r open", alias, exc_info=True)
            continue
        if mode.lower() == "wal":
            _held[alias] = connection
        else:
            connection.close()  # without a write-ahead log, closing costs nothing more


def release() -> None:
    """Close the held connections (the process stops)."""
    while _held:
        _, connection = _held.popitem()
        connection.close()


def held() -> list[str]:
    """The aliases of the databases held open."""
    return list(_held)


def _file_path(database: dict[str, Any]) -> str | None:
    if database.get("ENGINE") != "django.db.backends.sqlite3":
        return None
    name = str(database.get("NAME") or "")
    # An in-memory database (Django's test databases among them) has no log to keep.
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return name
