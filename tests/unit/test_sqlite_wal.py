"""realtime.sqlite_wal: one idle connection keeps a WAL database's log between requests."""

import sqlite3

import pytest

from realtime import sqlite_wal


@pytest.fixture
def wal_database(tmp_path):
    path = tmp_path / "app.sqlite3"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE row (id INTEGER PRIMARY KEY)")
    setup.close()
    yield path
    sqlite_wal.release()


def write_and_close(path) -> None:
    """What one request's database round does: open, write, commit, close."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("INSERT INTO row DEFAULT VALUES")
    connection.close()


def sqlite(path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def test_without_a_held_connection_each_close_checkpoints_and_deletes_the_log(wal_database):
    write_and_close(wal_database)

    assert not wal_database.with_name("app.sqlite3-wal").exists()


def test_a_held_connection_keeps_the_log_across_requests(wal_database):
    sqlite_wal.hold_open({"default": sqlite(wal_database)})

    write_and_close(wal_database)
    write_and_close(wal_database)

    assert sqlite_wal.held() == ["default"]
    assert wal_database.with_name("app.sqlite3-wal").exists()
    reader = sqlite3.connect(wal_database)
    assert reader.execute("SELECT count(*) FROM row").fetchone() == (2,)
    reader.close()


def test_release_lets_the_last_close_checkpoint_again(wal_database):
    sqlite_wal.hold_open({"default": sqlite(wal_database)})
    write_and_close(wal_database)

    sqlite_wal.release()
    write_and_close(wal_database)

    assert sqlite_wal.held() == []
    assert not wal_database.with_name("app.sqlite3-wal").exists()


def test_a_database_not_in_wal_mode_is_not_held(tmp_path):
    path = tmp_path / "rollback.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE row (id INTEGER PRIMARY KEY)").connection.close()

    sqlite_wal.hold_open({"default": sqlite(path)})

    assert sqlite_wal.held() == []


@pytest.mark.parametrize("name", [":memory:", "file:memorydb_default?mode=memory&cache=shared"])
def test_in_memory_databases_and_other_engines_are_left_alone(name):
    sqlite_wal.hold_open(
        {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": name},
            "other": {"ENGINE": "django.db.backends.postgresql", "NAME": "voice"},
        }
    )

    assert sqlite_wal.held() == []
