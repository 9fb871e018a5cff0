"""realtime.logcontext: the fields a context binds reach its log records, and only its."""

import asyncio
import logging

import pytest

from realtime import logcontext


@pytest.fixture
def captured() -> list[logging.LogRecord]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(logcontext.ContextFilter())
    handler.emit = records.append
    log = logging.getLogger("tests.logcontext")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield records
    log.removeHandler(handler)


async def test_each_task_logs_what_its_own_context_bound(captured):
    async def session(session_id: int) -> None:
        logcontext.bind(session_id=session_id, transport="websocket")
        await asyncio.sleep(0)  # the other task binds meanwhile
        logging.getLogger("tests.logcontext").info("frame", extra={"outcome": "ok"})

    await asyncio.gather(asyncio.create_task(session(1)), asyncio.create_task(session(2)))

    assert sorted((r.session_id, r.transport, r.outcome) for r in captured) == [
        (1, "websocket", "ok"),
        (2, "websocket", "ok"),
    ]


async def test_a_records_own_fields_win_over_the_bound_ones(captured):
    async def log() -> None:
        logcontext.bind(session_id=1, user_id=None)
        logging.getLogger("tests.logcontext").info("ended", extra={"session_id": 7})

    await asyncio.create_task(log())

    [record] = captured
    assert record.session_id == 7
    assert not hasattr(record, "user_id")  # None binds nothing


@pytest.mark.parametrize(
    ("given", "kept"),
    [("lb-8f14e45fceea167a", True), ("short", False), ("has spaces in it", False), ("", False)],
)
def test_a_clients_request_id_is_kept_only_when_well_formed(given, kept):
    chosen = logcontext.request_id(given)

    assert (chosen == given) is kept
    assert len(chosen) >= 8
