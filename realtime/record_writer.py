"""Write conversation records in batches, off the hot path: one bounded buffer per loop.

``realtime.recorder`` hands each record to ``put``, which never waits: the record joins a
bounded buffer (``BUFFER_LIMIT``), or, if the buffer is full, is dropped and counted by the
session that made it. One writer task per event loop drains the buffer in batches, each
batch one database round in a thread. A session's end ``flush``es first, so a normal end
or a drained shutdown loses nothing that was buffered; a database failure loses the batch,
logged, and never reaches the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections import deque
from typing import Any

from django.db import connection, models, transaction

from realtime import tasks
from realtime.db import database_round
from realtime.models import ConversationEntry, EntryKind, ResponseRecord
from realtime.records import Entry, LateTranscript, Record, Response

logger = logging.getLogger(__name__)

BUFFER_LIMIT = 10_000
BATCH_LIMIT = 500
BATCH_INTERVAL = 1.0  # seconds records gather before a batch is written


class RecordWriter:
    """The buffer of one event loop, and its writer task."""

    def __init__(self, limit: int = BUFFER_LIMIT, interval: float = BATCH_INTERVAL) -> None:
        self.limit = limit
        self.interval = interval
        self.buffer: deque[tuple[int, Record]] = deque()
        self.queued = 0  # records ever put
        self.handled = 0  # records written, or lost to a database failure
        self.lost = 0
        self._handled_more = asyncio.Event()
        self._flushing = asyncio.Event()  # a flush waits: write without waiting to gather
        self._task: asyncio.Task[None] | None = None

    def put(self, session_id: int, record: Record) -> bool:
        """Buffer one record; False (and nothing waits) if the buffer is full."""
        if len(self.buffer) >= self.limit:
            return False
        self.buffer.append((session_id, record))
        self.queued += 1
        self._start_writing()
        return True

    async def flush(self) -> None:
        """Wait until every record put so far is written (or lost to the database)."""
        target = self.queued
        while self.handled < target:
            self._flushing.set()
            self._start_writing()
            self._handled_more.clear()
            await self._handled_more.wait()

    def _start_writing(self) -> None:
        # The writer runs while there is something to write, and no longer: no task is left
        # behind by a loop with nothing to record.
        if self._task is None or self._task.done():
            self._task = tasks.detached(self._write_all())

    async def _write_all(self) -> None:
        # Records gather for up to a batch interval (less if a flush asks, or a batch is
        # full), so that a busy process writes a few large batches a second, not one
        # transaction per record; what arrives while a batch is written makes the next.
        while self.buffer:
            if len(self.buffer) < BATCH_LIMIT and not self._flushing.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._flushing.wait()
            self._flushing.clear()
            batch = [self.buffer.popleft() for _ in range(min(len(self.buffer), BATCH_LIMIT))]
            try:
                await database_round(write_batch)(batch)
            except Exception:
                self.lost += len(batch)
                logger.exception("could not write %d conversation records", len(batch))
            finally:
                self.handled += len(batch)
                self._handled_more.set()


def write_batch(batch: list[tuple[int, Record]]) -> None:
    """Write one batch: the new entries and responses, then the transcripts that came late.

    Rows go in with one ``executemany`` per table rather than through model instances:
    this runs in a thread beside the relay's event loop, and the less Python it runs, the
    less it holds the interpreter the relay needs.
    """
    entries, responses, transcripts = [], [], []
    for session_id, record in batch:
        if isinstance(record, Entry):
            entries.append(_entry_row(session_id, record))
        elif isinstance(record, Response):
            responses.append(_response_row(session_id, record))
        elif isinstance(record, LateTranscript):
            transcripts.append(_transcript_row(session_id, record))
    with transaction.atomic(), connection.cursor() as cursor:
        if entries:
            cursor.executemany(_insert(ConversationEntry, ENTRY_COLUMNS), entries)
        if responses:
            cursor.executemany(_insert(ResponseRecord, RESPONSE_COLUMNS), responses)
        if transcripts:
            # After the inserts: a transcript's turn is in this batch or an earlier one.
            cursor.executemany(_transcript_update(), transcripts)


ENTRY_COLUMNS = (
    "session_id",
    "at",
    "kind",
    "item_id",
    "response_id",
    "tool_call_id",
    "name",
    "text",
    "status",
    "duration_ms",
)
RESPONSE_COLUMNS = (
    "session_id",
    "response_id",
    "created_at",
    "status",
    "status_reason",
    "turn_to_created_ms",
    "turn_to_first_output_ms",
    "turn_to_done_ms",
    "created_to_first_output_ms",
    "created_to_done_ms",
    "input_text_tokens",
    "input_audio_tokens",
    "cached_text_tokens",
    "cached_audio_tokens",
    "output_text_tokens",
    "output_audio_tokens",
    "cost_usd",
)


def _insert(model: type[models.Model], columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608 (names from the models, quoted)


def _transcript_update() -> str:
    """Set a spoken turn's text, and its status unless the transcript completed (an empty
    status keeps the turn's own)."""
    quote = connection.ops.quote_name
    field = ConversationEntry._meta.get_field
    text, status = quote(field("text").column), quote(field("status").column)
    return (
        f"UPDATE {quote(ConversationEntry._meta.db_table)} "  # noqa: S608 (names from the model, quoted)
        f"SET {text} = %s, {status} = COALESCE(NULLIF(%s, ''), {status}) "
        f"WHERE {quote(field('session').column)} = %s AND {quote(field('item_id').column)} = %s "
        f"AND {quote(field('kind').column)} = '{EntryKind.USER_SPEECH.value}'"
    )


def _moment(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def _entry_row(session_id: int, entry: Entry) -> tuple[Any, ...]:
    return (
        session_id,
        _db_moment(entry.at),
        entry.kind,
        entry.item_id[:100],
        entry.response_id[:100],
        entry.tool_call_id[:100],
        entry.name[:200],
        entry.text,
        entry.status[:40],
        entry.duration_ms,
    )


def _transcript_row(session_id: int, transcript: LateTranscript) -> tuple[Any, ...]:
    status = "" if transcript.status == "completed" else transcript.status[:40]
    return (transcript.text, status, session_id, transcript.item_id[:100])


def _response_row(session_id: int, response: Response) -> tuple[Any, ...]:
    usage = response.usage
    cost = response.cost_usd
    return (
        session_id,
        response.response_id[:100],
        _db_moment(response.created),
        response.status[:20],
        response.status_reason[:40],
        _ms(response.turn_ended, response.created),
        _ms(response.turn_ended, response.first_output),
        _ms(response.turn_ended, response.done),
        _ms(response.created, response.first_output),
        _ms(response.created, response.done),
        usage.input_text,
        usage.input_audio,
        usage.cached_text,
        usage.cached_audio,
        usage.output_text,
        usage.output_audio,
        None if cost is None else connection.ops.adapt_decimalfield_value(cost, 14, 6),
    )


def _db_moment(seconds: float) -> Any:
    return connection.ops.adapt_datetimefield_value(_moment(seconds))


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 1)


_writers: dict[asyncio.AbstractEventLoop, RecordWriter] = {}


def writer() -> RecordWriter:
    """This event loop's writer (a server has one loop; tests may run several)."""
    loop = asyncio.get_running_loop()
    found = _writers.get(loop)
    if found is None:
        for stale in [known for known in _writers if known.is_closed()]:
            del _writers[stale]
        found = _writers[loop] = RecordWriter()
    return found


def put(session_id: int, record: Record) -> bool:
    """The recorder's sink: buffer on this loop's writer."""
    return writer().put(session_id, record)
