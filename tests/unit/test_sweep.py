"""realtime.sweep: which process owns a session's row, and ending the rows of stopped ones."""

import io
import os
import socket
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.utils import timezone

from realtime import sweep
from realtime.models import RealtimeSession, Source
from realtime.sweep import Liveness, liveness

HOST = socket.gethostname()
BOOT = sweep.BOOT_ID.read_text().strip()


def gone_process() -> str:
    """The owner a process of this host that has exited and been reaped would have left."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = sweep._start_token(child.pid)
    child.wait()
    return f"{HOST}:{child.pid}:{start}"


def test_this_process_is_alive():
    assert liveness(sweep.current()) is Liveness.ALIVE
    assert sweep.current() == f"{HOST}:{os.getpid()}:{sweep._start_token(os.getpid())}"


def test_a_process_that_exited_is_gone():
    assert liveness(gone_process()) is Liveness.GONE


def test_a_pid_now_used_by_another_process_is_gone():
    host, pid, start = sweep.current().split(":")
    boot, ticks = start.split(".")

    assert liveness(f"{host}:{pid}:{boot}.{int(ticks) - 1}") is Liveness.GONE


def test_a_process_of_an_earlier_boot_is_gone():
    host, pid, start = sweep.current().split(":")
    ticks = start.split(".")[1]

    assert liveness(f"{host}:{pid}:00000000-0000-0000-0000-000000000000.{ticks}") is Liveness.GONE


def test_a_zombie_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = f"{HOST}:{child.pid}:{sweep._start_token(child.pid)}"
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet

    assert liveness(owner) is Liveness.GONE
    child.wait()


@pytest.mark.parametrize(
    "owner",
    [
        f"another-host:{os.getpid()}:{BOOT}.1",  # this host cannot see other hosts' processes
        f"{HOST}:{os.getpid()}:",  # made where /proc could not say when it started
        "not an owner",
        f"{HOST}:-1:{BOOT}.1",
    ],
)
def test_what_this_host_cannot_judge_is_left_alone(owner):
    assert liveness(owner) is Liveness.UNKNOWN


@pytest.mark.django_db
def test_a_sweep_ends_only_the_open_rows_of_gone_processes():
    gone = gone_process()
    earlier = timezone.now() - timezone.timedelta(hours=1)

    def row(owner: str, **fields) -> RealtimeSession:
        return RealtimeSession.objects.create(
            source=Source.WEBSOCKET_PROXY, server_process=owner, **fields
        )

    left_open = row(gone)
    ended_before = row(gone, ended_at=earlier, error_code="idle_timeout")
    alive = row(sweep.current())
    elsewhere = row(f"another-host:1:{BOOT}.1")
    webrtc_call = RealtimeSession.objects.create(source=Source.WEB)

    swept = sweep.sweep()

    assert swept == sweep.Swept(ended=1, left=2)
    rows = {r.pk: r for r in RealtimeSession.objects.all()}
    assert rows[left_open.pk].error_code == "server_stopped"
    assert rows[left_open.pk].ended_at is not None
    assert (rows[ended_before.pk].ended_at, rows[ended_before.pk].error_code) == (
        earlier,
        "idle_timeout",
    )
    assert all(rows[r.pk].ended_at is None for r in (alive, elsewhere, webrtc_call))


@pytest.mark.django_db
def test_the_command_sweeps_and_says_what_it_left():
    RealtimeSession.objects.create(source=Source.WEBSOCKET_PROXY, server_process=gone_process())
    RealtimeSession.objects.create(source=Source.WEBSOCKET_PROXY, server_process=sweep.current())
    out = io.StringIO()

    call_command("sweep_sessions", stdout=out)

    assert out.getvalue().strip() == (
        "Ended 1 session(s) that stopped processes left open; 1 open session(s) belong to "
        "running processes or other hosts."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("sideband", [True, False])
def test_a_gone_processs_live_call_is_left_to_be_taken_over_where_calls_have_sidebands(
    settings, sideband
):
    settings.REALTIME_SIDEBAND = sideband
    gone = gone_process()
    young = RealtimeSession.objects.create(
        source=Source.WEB, transport="webrtc", call_id="rtc_u1_young", server_process=gone
    )
    old = RealtimeSession.objects.create(
        source=Source.WEB, transport="webrtc", call_id="rtc_u1_old", server_process=gone
    )
    # Past OpenAI's session limit: over, whatever the process that watched it.
    RealtimeSession.objects.filter(pk=old.pk).update(
        started_at=timezone.now() - timezone.timedelta(minutes=61)
    )

    swept = sweep.sweep()

    young.refresh_from_db()
    old.refresh_from_db()
    assert old.end_reason == "server_stopped"
    if sideband:
        assert (swept.ended, young.ended_at) == (1, None)
    else:
        assert (swept.ended, young.end_reason) == (2, "server_stopped")
