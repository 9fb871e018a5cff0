"""Ending live sessions on staff's word (the admin's ``end_sessions`` action), whichever
process carries them.

Every live session joins a group of the channel layer named after its row
(``session_group``) through its process's one channel (``ProcessChannel``): a proxied
WebSocket's consumer and a WebRTC call's sideband alike. (A channel per consumer would make
Channels wait on it beside the client for every frame.) The action sends the group
``realtime.end_session``; with Redis behind the layer (``REDIS_URL``) the process that holds
the session hears it, wherever the admin request landed. That process ends the session as
it ends any other: a proxied client gets an ``error`` event ``ended_by_staff`` and a 4410
close; a call's sideband stops first (so its record's end is ours), then the call is hung
up at OpenAI. A call no sideband answers for (none watches it, or its process is gone) is
hung up by the admin's process itself. A GPT-Live session's row (``api`` live) is hung up as
Live's are (``realtime.upstream_live``), a Realtime call's as Realtime's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from channels.layers import get_channel_layer
from django.utils import timezone

from realtime import tasks, upstream, upstream_live
from realtime.conf import get_settings
from realtime.db import database_round
from realtime.diagnostics import Exchange, record
from realtime.models import Api, ExchangeKind, RealtimeSession, Source, Transport

logger = logging.getLogger(__name__)

END_MESSAGE = "realtime.end_session"  # heard by ProcessChannel
END_REASON = "ended_by_staff"
# How long the action waits for the processes that hold the sessions to end them.
ANSWER_TIMEOUT = 5.0
# How each API's calls are hung up at OpenAI, by id (rtc_… or live_…); OpenAI's status.
HANG_UPS: dict[str, Callable[[str], Awaitable[int]]] = {
    Api.REALTIME: upstream.hang_up_call,
    Api.LIVE: upstream_live.hang_up_live_session,
}


def session_group(session_id: int) -> str:
    return f"realtime.session.{session_id}"


def end_message(session_id: int) -> dict[str, object]:
    return {"type": END_MESSAGE, "session_id": session_id}


async def hang_up(call_id: str, session_id: int | None, *, api: str = Api.REALTIME) -> bool:
    """Hang a call of ``api`` up at OpenAI with the server key, and record the exchange;
    whether the call is over (hung up now, or over already)."""
    exchange = await hang_up_at_openai(call_id, session_id, api=api)
    await record(exchange)
    return not exchange.error_code


async def hang_up_at_openai(call_id: str, session_id: int | None, *, api: str) -> Exchange:
    """Hang a call of ``api`` up at OpenAI with the server key; the exchange, to record."""
    exchange = Exchange(
        kind=ExchangeKind.HANGUP,
        source=Source.ADMIN,
        transport=Transport.WEBRTC,
        api=api,
        call_id=call_id,
        session_id=session_id,
    )
    started = time.perf_counter()
    try:
        exchange.upstream_status = await HANG_UPS[api](call_id)
    except upstream.UpstreamError as error:
        if error.status != 404:  # a 404: the call was over already
            exchange.note_failure(error)
        else:
            exchange.upstream_status = 404
    exchange.upstream_ms = exchange.total_ms = (time.perf_counter() - started) * 1000
    return exchange


async def _join(channel: str, session_id: int | None) -> None:
    """Let ``channel`` hear the end of session ``session_id`` (a no-op without a layer)."""
    layer = get_channel_layer()
    if layer is not None and session_id is not None:
        await layer.group_add(session_group(session_id), channel)


async def _leave(channel: str, session_id: int | None) -> None:
    """Best-effort: a group's entries expire by themselves (channels-redis) anyway."""
    layer = get_channel_layer()
    if layer is not None and session_id is not None:
        with contextlib.suppress(Exception):
            await layer.group_discard(session_group(session_id), channel)


class ProcessChannel:
    """This process's channel on the layer, through which its sessions hear an end."""

    def __init__(self) -> None:
        self._channel = ""
        self._listener: asyncio.Task[None] | None = None
        self._ends: dict[int, Callable[[], Awaitable[None]]] = {}

    async def join(self, session_id: int, end: Callable[[], Awaitable[None]]) -> None:
        """Call ``end`` when staff end session ``session_id``, until ``leave``."""
        layer = get_channel_layer()
        if layer is None:
            return
        loop = asyncio.get_running_loop()
        if self._listener is None or self._listener.get_loop() is not loop:
            self._channel = await layer.new_channel("realtime.process.")
            self._listener = tasks.detached(self._listen(layer, self._channel))
        self._ends[session_id] = end
        await _join(self._channel, session_id)

    async def leave(self, session_id: int) -> None:
        if self._ends.pop(session_id, None) is not None:
            await _leave(self._channel, session_id)

    async def _listen(self, layer, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the process's channel failed; listening again in 1 s")
                await asyncio.sleep(1)
                continue
            end = self._ends.get(message.get("session_id"))
            if message.get("type") == END_MESSAGE and end is not None:
                task = asyncio.get_running_loop().create_task(end())
                task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("could not end a session for staff", exc_info=task.exception())


process_channel = ProcessChannel()


@dataclass
class EndReport:
    """What the action did: sessions ended, calls this process hung up itself (or could
    not), and sessions that were not live or did not answer."""

    ended: list[int] = field(default_factory=list)
    hung_up_here: list[int] = field(default_factory=list)
    not_hung_up: list[int] = field(default_factory=list)
    not_live: list[int] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)
    channel_layer: bool = True  # False: none is configured, so no process could be told


async def end_sessions(session_ids: list[int]) -> EndReport:
    """End the live sessions among ``session_ids``, wherever they are held; wait up to
    ``ANSWER_TIMEOUT`` seconds for their rows to end."""
    layer = get_channel_layer()
    report = EndReport(channel_layer=layer is not None)
    live = await _live_sessions(session_ids)
    report.not_live = [pk for pk in session_ids if pk not in live]
    if layer is not None:
        for session_id in live:
            await layer.group_send(session_group(session_id), end_message(session_id))
    still_live = await _wait_for_ends(list(live), ANSWER_TIMEOUT if layer is not None else 0)
    report.ended = [pk for pk in live if pk not in still_live]
    for session_id in still_live:
        call_id, api = live[session_id]
        if call_id and get_settings().openai_api_key:
            # Nobody here or elsewhere watches the call: hang it up from here.
            if await hang_up(call_id, session_id, api=api):
                await _end_row(session_id)
                report.hung_up_here.append(session_id)
            else:
                report.not_hung_up.append(session_id)
        else:
            report.unanswered.append(session_id)
    return report


@database_round
def _live_sessions(session_ids: list[int]) -> dict[int, tuple[str, str]]:
    """The sessions among ``session_ids`` that have not ended: each one's call id and API."""
    rows = RealtimeSession.objects.filter(pk__in=session_ids, ended_at__isnull=True)
    return {pk: (call_id, api) for pk, call_id, api in rows.values_list("pk", "call_id", "api")}


async def _wait_for_ends(session_ids: list[int], seconds: float) -> set[int]:
    """The sessions still live after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        live = set(await _live_sessions(session_ids))
        if not live or time.monotonic() >= deadline:
            return live
        await asyncio.sleep(0.1)


@database_round
def _end_row(session_id: int) -> None:
    RealtimeSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=END_REASON, error_code=END_REASON
    )
