"""realtime.db: database rounds run on a few threads that keep their connections."""

import asyncio
import contextvars
import threading
import time

import pytest
from django.db import connection

from realtime import db

pytestmark = pytest.mark.django_db(transaction=True)

caller = contextvars.ContextVar("caller", default="nobody")


@pytest.fixture(autouse=True)
def fresh_threads(settings):
    """Each test starts the threads anew, with its own count."""
    db.close_connections()
    yield settings
    db.close_connections()


@db.database_round
def raw_connection() -> object:
    connection.ensure_connection()
    return connection.connection


@db.database_round
def thread_after(seconds: float) -> str:
    time.sleep(seconds)
    return threading.current_thread().name


async def test_a_database_thread_keeps_its_connection_between_rounds(fresh_threads):
    fresh_threads.REALTIME_DATABASE_THREADS = 1

    first = await raw_connection()
    second = await raw_connection()

    assert first is not None
    assert second is first


async def test_closing_the_connections_makes_the_next_round_connect_anew(fresh_threads):
    fresh_threads.REALTIME_DATABASE_THREADS = 1
    before = await raw_connection()

    await asyncio.to_thread(db.close_connections)
    after = await raw_connection()

    assert after is not before


async def test_rounds_share_no_more_threads_than_the_setting_allows(fresh_threads):
    fresh_threads.REALTIME_DATABASE_THREADS = 2

    names = await asyncio.gather(*(thread_after(0.05) for _ in range(6)))

    assert len(set(names)) == 2
    assert all(name.startswith("realtime-db") for name in names)


async def test_a_round_runs_in_its_callers_context(fresh_threads):
    @db.database_round
    def who_called() -> str:
        return caller.get()

    caller.set("the relay")

    assert await who_called() == "the relay"


async def test_an_error_in_a_round_reaches_the_caller_and_the_thread_goes_on(fresh_threads):
    fresh_threads.REALTIME_DATABASE_THREADS = 1

    @db.database_round
    def bad_query() -> None:
        with connection.cursor() as cursor:
            cursor.execute("select * from no_such_table")

    with pytest.raises(Exception, match="no_such_table"):
        await bad_query()
    assert await raw_connection() is not None


async def test_closing_while_a_round_still_runs_gives_up_after_the_timeout(fresh_threads, caplog):
    fresh_threads.REALTIME_DATABASE_THREADS = 2
    busy = asyncio.ensure_future(thread_after(1.0))
    await asyncio.sleep(0.1)

    await asyncio.to_thread(db.close_connections, 0.2)

    assert "still busy" in caplog.text
    assert (await busy).startswith("realtime-db")
    assert await raw_connection() is not None  # the next round starts anew
