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
import datetime
import logging
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from realtime.models import ConversationEntry, ResponseRecord
from realtime.recorder import Entry, LateTranscript, Record, Response

logger = logging.getLogger(__name__)

BUFFER_LIMIT = 10_000
BATCH_LIMIT = 500


class RecordWriter:
    """The buffer of one event loop, and its writer task."""

    def __init__(self, limit: int = BUFFER_LIMIT) -> None:
        self.limit = limit
        self.buffer: deque[tuple[int, Record]] = deque()
        self.queued = 0  # records ever put
        self.handled = 0  # records written, or lost to a database failure
        self.lost = 0
        self._handled_more = asyncio.Event()
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
            self._start_writing()
            self._handled_more.clear()
            await self._handled_more.wait()

    def _start_writing(self) -> None:
        # The writer runs while there is something to write, and no longer: no task is left
        # behind by a loop with nothing to record.
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        # What arrives while a batch is written makes the next batch.
        while self.buffer:
            batch = [self.buffer.popleft() for _ in range(min(len(self.buffer), BATCH_LIMIT))]
            try:
                await database_sync_to_async(write_batch)(batch)
            except Exception:
                self.lost += len(batch)
                logger.exception("could not write %d conversation records", len(batch))
            finally:
                self.handled += len(batch)
                self._handled_more.set()


def write_batch(batch: list[tuple[int, Record]]) -> None:
    """Write one batch: the new entries and responses, then the transcripts that came late."""
    entries, responses, transcripts = [], [], []
    for session_id, record in batch:
        if isinstance(record, Entry):
            entries.append(_entry_row(session_id, record))
        elif isinstance(record, Response):
            responses.append(_response_row(session_id, record))
        elif isinstance(record, LateTranscript):
            transcripts.append((session_id, record))
    with transaction.atomic():
        ConversationEntry.objects.bulk_create(entries)
        ResponseRecord.objects.bulk_create(responses)
        for session_id, transcript in transcripts:
            # Written in the same batch as its turn, or a later one: the turn is there.
            fields: dict[str, Any] = {"text": transcript.text}
            if transcript.status != "completed":
                fields["status"] = transcript.status
            ConversationEntry.objects.filter(
                session_id=session_id, item_id=transcript.item_id, kind="user_speech"
            ).update(**fields)


def _moment(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def _entry_row(session_id: int, entry: Entry) -> ConversationEntry:
    return ConversationEntry(
        session_id=session_id,
        at=_moment(entry.at),
        kind=entry.kind,
        item_id=entry.item_id[:100],
        response_id=entry.response_id[:100],
        tool_call_id=entry.tool_call_id[:100],
        name=entry.name[:200],
        text=entry.text,
        status=entry.status[:40],
    )


def _response_row(session_id: int, response: Response) -> ResponseRecord:
    usage = response.usage
    return ResponseRecord(
        session_id=session_id,
        response_id=response.response_id[:100],
        created_at=_moment(response.created),
        status=response.status[:20],
        status_reason=response.status_reason[:40],
        turn_to_created_ms=_ms(response.turn_ended, response.created),
        turn_to_first_output_ms=_ms(response.turn_ended, response.first_output),
        turn_to_done_ms=_ms(response.turn_ended, response.done),
        created_to_first_output_ms=_ms(response.created, response.first_output),
        created_to_done_ms=_ms(response.created, response.done),
        input_text_tokens=usage.input_text,
        input_audio_tokens=usage.input_audio,
        cached_text_tokens=usage.cached_text,
        cached_audio_tokens=usage.cached_audio,
        output_text_tokens=usage.output_text,
        output_audio_tokens=usage.output_audio,
        cost_usd=response.cost_usd,
    )


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
