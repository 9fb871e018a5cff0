"""Which process carries a live session, and ending the sessions a stopped process left open.

Each proxied session's row, and each WebRTC call's whose sideband records it, names the
process that carries it (``server_process``):
``host:pid:start``, where ``start`` makes the pid unique over time (on Linux: the boot's id
and the process's start time in clock ticks, from ``/proc``). A process that drains
(SIGTERM, SIGINT: ``realtime.drain``) ends its own rows; one that is killed (SIGKILL, the
OOM killer, a crash) cannot, and its rows stay open until a sweep ends them with
``server_stopped``: at every server start (``realtime.lifecycle``) and with
``manage.py sweep_sessions``.

A sweep ends only the rows of a process that is certainly gone: on this host, its pid runs
nothing, or runs a process that started at another time (the pid was reused), or a zombie,
or the machine has booted since. Rows of other hosts are left alone, because this host
cannot see their processes; so are rows it cannot judge (no ``/proc``, or a process
``/proc`` hides). Run the command on each host, or restart a server there.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from realtime.db import database_round
from realtime.models import RealtimeSession, Transport

logger = logging.getLogger(__name__)

PROC = Path("/proc")
BOOT_ID = PROC / "sys/kernel/random/boot_id"
HOST_LENGTH = 100


class Liveness(enum.Enum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"  # another host's, or not to be judged from here: left alone


def current() -> str:
    """Return this process's name for the rows it owns: ``host:pid:start``."""
    # By pid: a worker forked after import is a process of its own.
    return _identity(os.getpid())


@functools.cache
def _identity(pid: int) -> str:
    return f"{socket.gethostname()[:HOST_LENGTH]}:{pid}:{_start_token(pid) or ''}"


def _boot_id() -> str | None:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, str] | None:
    """Return a process's state and start time (clock ticks since boot), or None."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may itself hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def _start_token(pid: int) -> str | None:
    boot, stat = _boot_id(), _stat(pid)
    if boot is None or stat is None:
        return None
    return f"{boot}.{stat[1]}"


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def liveness(owner: str) -> Liveness:
    """Judge whether the process a row names still runs."""
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return Liveness.UNKNOWN
    if host != socket.gethostname()[:HOST_LENGTH] or pid <= 0:
        return Liveness.UNKNOWN
    if not _pid_runs(pid):
        return Liveness.GONE
    boot, _, ticks = start.partition(".")
    if not ticks:
        return Liveness.UNKNOWN  # made where /proc could not say when it started
    if boot != _boot_id():
        return Liveness.GONE  # the machine booted since
    stat = _stat(pid)
    if stat is None:
        return Liveness.UNKNOWN  # hidden from us (hidepid), or it exited just now
    state, started = stat
    # A zombie has exited, only its parent has not reaped it; another start time means
    # the pid now belongs to another process.
    return Liveness.GONE if state == "Z" or started != ticks else Liveness.ALIVE


@dataclass(frozen=True)
class Swept:
    ended: int  # rows of stopped processes, now ended with server_stopped
    left: int  # open rows of live processes, other hosts, or owners not to be judged


def sweep() -> Swept:
    """End the open session rows of processes on this host that are gone.

    Where calls get sidebands, a WebRTC call younger than OpenAI's session limit is left
    to be taken over (``realtime.sideband_leases``): it may live on, and a process that
    adopts it records the rest, or finds it over and ends its row.
    """
    from realtime import sideband_leases  # it names this module's processes

    open_rows = RealtimeSession.objects.filter(ended_at__isnull=True).exclude(server_process="")
    if sideband_leases.sidebands_wanted():
        young = timezone.now() - timedelta(seconds=sideband_leases.CALL_MAX_SECONDS)
        open_rows = open_rows.exclude(
            Q(transport=Transport.WEBRTC, started_at__gte=young) & ~Q(call_id="")
        )
    owners = set(open_rows.order_by().values_list("server_process", flat=True).distinct())
    gone = [owner for owner in owners if liveness(owner) is Liveness.GONE]
    ended = 0
    if gone:
        ended = open_rows.filter(server_process__in=gone).update(
            ended_at=timezone.now(), error_code="server_stopped", end_reason="server_stopped"
        )
        logger.warning("ended %d realtime sessions that stopped processes left open", ended)
    return Swept(ended=ended, left=open_rows.count())


async def sweep_at_start() -> None:
    """Sweep as a server starts; a failure (say, a database not migrated yet) is logged."""
    try:
        await database_round(sweep)()
    except Exception:
        logger.exception("could not end the sessions that stopped processes left open")
