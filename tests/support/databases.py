"""The database each test server records into: a SQLite file by default, or under
`make test-postgres` a fresh database on the PostgreSQL cluster ``TEST_DATABASE_URL`` names.

Tests read a server's rows through ``query``, written with ``?`` placeholders as SQLite
spells them; on PostgreSQL they become psycopg's ``%s`` (and a literal ``%`` its ``%%``).
"""

from __future__ import annotations

import ipaddress
import os
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Set by `python -m tests.support.postgres` (make test-postgres): the cluster's superuser URL.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


ADDRESSES = (ipaddress.IPv4Address, ipaddress.IPv6Address)


def on_postgres() -> bool:
    return TEST_DATABASE_URL.startswith(("postgres://", "postgresql://"))


def fresh_database_url(sqlite_file: Path, cluster: str | None = None) -> str:
    """A new, empty database for one server: ``sqlite_file``, or a new database on the
    PostgreSQL ``cluster`` (by default the tests', when they run on one)."""
    cluster = cluster or (TEST_DATABASE_URL if on_postgres() else None)
    if cluster is None:
        return f"sqlite:///{sqlite_file}"
    import psycopg

    name = f"server_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(cluster, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(cluster)._replace(path=f"/{name}"))


def query(database_url: str, sql: str, *params: object) -> list[dict]:
    """The rows ``sql`` selects from the database ``database_url`` names, as dicts."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params)]
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, row_factory=dict_row) as db:
        rows = db.execute(sql.replace("%", "%%").replace("?", "%s"), params)
        # An address column holds text, as SQLite gives it back.
        return [
            {name: str(value) if isinstance(value, ADDRESSES) else value for name, value in row}
            for row in (row.items() for row in rows)
        ]


def every_row(database_url: str) -> str:
    """Every row of every table the database holds, one ``repr`` a line (for scans)."""
    if database_url.startswith("sqlite:///"):
        tables = query(database_url, "select name from sqlite_master where type = 'table'")
        names = [table["name"] for table in tables]
    else:
        tables = query(
            database_url,
            "select table_name from information_schema.tables where table_schema = 'public'",
        )
        names = [table["table_name"] for table in tables]
    return "\n".join(
        repr(row)
        for name in names
        for row in query(database_url, f'select * from "{name}"')  # noqa: S608
    )


def destroy(database_url: str) -> None:
    """Take a server's database away under it: overwrite the SQLite file with something that
    is no database, or drop the PostgreSQL database, ending its connections."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        path.write_bytes(b"this is not a database" * 100)
        return
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
