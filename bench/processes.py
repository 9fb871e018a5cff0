"""A server's processes: its workers, their CPU time, and a cap on each worker's share of a
core (Linux's cgroup cpu controller, v1 or v2), so that a machine with few cores can show
how the server scales with its processes.

On two cores the load generator, the emulator, PostgreSQL and Redis run beside the server,
and a second worker mostly takes CPU from them: its throughput says more about the machine
than about the server. With every worker capped well below a core, the workers are what
limits the throughput, and with nothing shared but the database and Redis, N workers should
serve N times what one does; what falls short of that is contention in the server's design.

Needs root (the cgroup folders); each cap's folder is removed after its server stops.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.emulator_load import cpu_seconds

PERIOD_US = 100_000
V1_ROOT = Path("/sys/fs/cgroup/cpu")
V2_ROOT = Path("/sys/fs/cgroup")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of every process under it (uvicorn's workers)."""
    children = _children_by_parent()  # one look through /proc for the whole tree
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            total += cpu_seconds(current)
        pending.extend(children.get(current, []))
    return total


def worker_pids(server_pid: int, workers: int, timeout: float = 30) -> list[int]:
    """The server's worker processes: itself when it has one, else its spawned children
    (uvicorn's ``--workers``), waited for until ``workers`` of them run."""
    if workers == 1:
        return [server_pid]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [
            pid
            for pid in _children_by_parent().get(server_pid, [])
            if b"spawn_main" in (command := _cmdline(pid)) and b"resource_tracker" not in command
        ]
        if len(children) >= workers:
            return children[:workers]
        time.sleep(0.1)
    raise SystemExit(f"{workers} workers of process {server_pid} did not start in {timeout} s")


@contextmanager
def capped(pids: list[int], share: float) -> Iterator[None]:
    """Put each process in a cgroup of its own allowed ``share`` of one core (threads it
    starts later go along); remove the cgroups once the processes are gone."""
    folders = [_cap(pid, share) for pid in pids]
    try:
        yield
    finally:
        for folder in folders:
            _remove(folder)


def _cap(pid: int, share: float) -> Path:
    quota = int(share * PERIOD_US)
    if V1_ROOT.is_dir():
        folder = V1_ROOT / f"voiceproject-bench-{pid}"
        folder.mkdir(exist_ok=True)
        (folder / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (folder / "cpu.cfs_quota_us").write_text(str(quota))
    elif "cpu" in (V2_ROOT / "cgroup.controllers").read_text().split():
        folder = V2_ROOT / f"voiceproject-bench-{pid}"
        folder.mkdir(exist_ok=True)
        (folder / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    else:
        raise SystemExit("no cgroup cpu controller to cap the workers with")
    (folder / "cgroup.procs").write_text(str(pid))
    return folder


def _remove(folder: Path, timeout: float = 10) -> None:
    # A cgroup can be removed once its processes have exited.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def _children_by_parent() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):  # gone meanwhile
                stat = Path(f"/proc/{entry}/stat").read_text()
                found.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
