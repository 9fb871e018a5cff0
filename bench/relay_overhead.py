"""What the relay adds: mint and handshake through the server vs straight to the upstream.

Starts the offline emulator of OpenAI's realtime endpoints, then each --targets server in
turn (daphne as `make run` serves the project, uvicorn with one worker or two as `make
run-prod` does), recording every exchange to one fresh database (a SQLite file, or with
--postgres a throwaway PostgreSQL cluster), as separate processes;
for each it sends the same requests through the relay and straight to the emulator,
sequentially (latency) and concurrently (throughput). Each handshake's call is hung up
right after its timed request, for relay and direct alike, so unconnected WebRTC peers do
not pile up in the emulator. Prints a Markdown table for the README.

    .venv/bin/python bench/relay_overhead.py [--requests 500] [--concurrency 8] \
        [--targets daphne uvicorn uvicorn-2 uvicorn-plain floor-asgi floor-django] \
        [--redis] [--postgres] \
        [--baseline DIR] [--worker-cpu SHARE]

``uvicorn-plain`` is uvicorn on asyncio's own loop and h11, as it runs without the
production extra's uvloop and httptools.

``floor-asgi`` and ``floor-django`` serve not the project but its requests forwarded with
nothing of ours around them (``bench/floor.py``): a bare ASGI app, and a Django view
without middleware or database, each with httpx, under uvicorn. The relay's figures less
theirs are what its checks, record and sideband cost; theirs are what the stack costs.

``--worker-cpu 0.3`` caps each worker process at 0.3 of a core (``bench/processes.py``):
on a machine with few cores the workers, not the machine, then limit the throughput, which
shows how it grows with the processes.

``--baseline DIR`` serves each target from another checkout too (``git worktree add DIR
COMMIT``), right before this one, with the same interpreter, emulator and database: a
before/after comparison in one run.

Loopback only; every loop is bounded by --requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection

from realtime.emulator.testing import EmulatorProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.checkouts import commit
from bench.floor import MINT_BODY, SESSION
from bench.processes import capped, tree_cpu_seconds, worker_pids
from tests.support import postgres
from tests.support.databases import fresh_database_url
from tests.support.ports import free_port
from tests.support.redis import RedisServer

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVER_KEY = "sk-bench-server-key"
APP = "voiceproject.asgi:application"

Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
Cleanup = Callable[[httpx.AsyncClient, httpx.Response], Awaitable[None]]


@dataclass(frozen=True)
class Sample:
    latencies_ms: list[float]
    seconds: float
    # The serving processes' CPU time over the timed requests (None: not measured).
    cpu_seconds: float | None = None

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None:
            return None
        return self.cpu_seconds * 1000 / len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def wait_for_port(port: int, process: subprocess.Popen, deadline: float = 30) -> None:
    """Bounded wait for a child process to listen."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise SystemExit(f"a server exited at start ({process.args[0]})")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listened on port {port} within {deadline} s")


async def measure(
    send: Send,
    cleanup: Cleanup | None,
    requests: int,
    concurrency: int,
    expect: int,
    server_pid: int | None = None,
) -> Sample:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(min(50, requests)):  # warm up connections and caches
            response = await send(client)
            if cleanup is not None:
                await cleanup(client, response)
        latencies: list[float] = []
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                response = await send(client)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != expect:
                    raise SystemExit(f"got {response.status_code}: {response.text[:200]}")
                if cleanup is not None:
                    await cleanup(client, response)  # not timed

        cpu_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu = tree_cpu_seconds(server_pid) - cpu_before if server_pid else None
        return Sample(latencies, seconds, cpu)


async def browser_offer() -> bytes:
    """A real offer, as a browser makes one, without candidates (so the emulator's peers
    start no connectivity checks) and without ICE servers (so making it asks no STUN server)."""
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.createDataChannel("oai-events")
    peer.addTransceiver("audio", direction="sendrecv")
    await peer.setLocalDescription(await peer.createOffer())
    lines = peer.localDescription.sdp.splitlines(keepends=True)
    await peer.close()
    return "".join(line for line in lines if not line.startswith("a=candidate")).encode()


# How each target serves the project: (command, what it is called in the table).
TARGETS = {
    "daphne": "daphne, 1 process",
    "uvicorn": "uvicorn, 1 worker",
    "uvicorn-2": "uvicorn, 2 workers",
    # uvicorn on asyncio's own event loop and the pure-Python h11 parser, as it runs when
    # uvloop and httptools (the production extra) are not installed.
    "uvicorn-plain": "uvicorn, 1 worker, asyncio loop and h11",
    # Not the project: its requests forwarded with nothing of ours around them, under
    # uvicorn (bench/floor.py), to show what the stack itself adds.
    "floor-asgi": "floor: a bare ASGI app and httpx",
    "floor-django": "floor: a Django view and httpx",
}
# The app each target serves.
APPS = {
    "floor-asgi": "bench.floor:application",
    "floor-django": "bench.floor_django:application",
}
WORKERS = {"uvicorn-2": 2}  # the others serve from one process


def relay_command(target: str, port: int) -> list[str]:
    if target == "daphne":
        return [
            str(BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            APP,
        ]
    workers = str(WORKERS.get(target, 1))
    plain = ["--loop", "asyncio", "--http", "h11"] if target == "uvicorn-plain" else []
    return [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        workers,
        "--ws",
        "websockets-sansio",
        *plain,
        "--no-access-log",
        "--log-level",
        "warning",
        APPS.get(target, APP),
    ]


@contextmanager
def emulator_and_env(
    redis_url: str | None, cluster: str | None = None
) -> Iterator[tuple[str, dict[str, str]]]:
    """Start the emulator; yield its base URL and the project's environment, migrated (on a
    new database of the PostgreSQL ``cluster``, or a SQLite file)."""
    emulator = EmulatorProcess("--api-key", SERVER_KEY).start()
    workdir = tempfile.mkdtemp(prefix="relay-bench-")
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILES": "",
        "DEBUG": "false",
        # Plain http on loopback: no https redirect, cookies (CSRF) over http.
        "SECURE_SSL_REDIRECT": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SESSION_COOKIE_SECURE": "false",
        "SECRET_KEY": "bench-" + "x" * 44,
        "DATABASE_URL": fresh_database_url(Path(workdir) / "bench.sqlite3", cluster),
        "OPENAI_API_KEY": SERVER_KEY,
        "OPENAI_BASE_URL": emulator.base_url,
        "REALTIME_RATE_LIMIT": "0",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=PROJECT, env=env, check=True
    )
    try:
        yield emulator.base_url, env
    finally:
        emulator.stop()


@contextmanager
def relay(
    target: str, env: dict[str, str], project: Path = PROJECT, worker_cpu: float | None = None
) -> Iterator[tuple[str, int]]:
    """Serve the project (the checkout at ``project``) as ``target`` says, each worker capped
    at ``worker_cpu`` of a core if given; yield its URL and the server's process id."""
    port = free_port()
    # The caps' cgroups go once the server's processes are gone: the stack closes last.
    with contextlib.ExitStack() as caps:
        process = subprocess.Popen(
            relay_command(target, port),
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process)
            if worker_cpu is not None:
                workers = worker_pids(process.pid, WORKERS.get(target, 1))
                caps.enter_context(capped(workers, worker_cpu))
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(20)


async def run(
    relay: str, upstream: str, requests: int, concurrency: int, server_pid: int | None = None
) -> list[tuple[str, int, Sample, Sample]]:
    async with httpx.AsyncClient() as setup:
        page = await setup.get(f"{relay}/")
        csrf = page.cookies["csrftoken"]
        minted = await setup.post(
            f"{upstream}/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {SERVER_KEY}"},
        )
        secret = minted.json()["value"]
    offer = await browser_offer()

    async def hang_up(client: httpx.AsyncClient, response: httpx.Response) -> None:
        call_id = response.headers["location"].rsplit("/", 1)[1]
        await client.post(f"{upstream}/realtime/calls/{call_id}/hangup", headers=server_auth)

    browser_headers = {"X-CSRFToken": csrf, "Cookie": f"csrftoken={csrf}"}
    server_auth = {"Authorization": f"Bearer {SERVER_KEY}"}
    sdp_with_secret = {"Content-Type": "application/sdp", "Authorization": f"Bearer {secret}"}
    cases: list[tuple[str, int, Send, Send, Cleanup | None]] = [
        (
            "mint (client secret)",
            200,
            lambda c: c.post(f"{relay}/api/realtime/client-secret", headers=browser_headers),
            lambda c: c.post(
                f"{upstream}/realtime/client_secrets", headers=server_auth, json=MINT_BODY
            ),
            None,
        ),
        (
            "handshake, ek_ secret",
            201,
            lambda c: c.post(
                f"{relay}/api/realtime/handshake", content=offer, headers=sdp_with_secret
            ),
            lambda c: c.post(
                f"{upstream}/realtime/calls?model=gpt-realtime-2.1",
                content=offer,
                headers=sdp_with_secret,
            ),
            hang_up,
        ),
        (
            "handshake, unified",
            201,
            lambda c: c.post(
                f"{relay}/api/realtime/handshake",
                content=offer,
                headers={**browser_headers, "Content-Type": "application/sdp"},
            ),
            lambda c: c.post(
                f"{upstream}/realtime/calls?model=gpt-realtime-2.1",
                headers=server_auth,
                files={
                    "sdp": (None, offer, "application/sdp"),
                    "session": (None, SESSION, "application/json"),
                },
            ),
            hang_up,
        ),
    ]
    results = []
    for name, expect, through_relay, direct, cleanup in cases:
        for level in (1, concurrency):
            relayed = await measure(through_relay, cleanup, requests, level, expect, server_pid)
            straight = await measure(direct, cleanup, requests, level, expect)
            results.append((name, level, relayed, straight))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--targets", nargs="+", default=["daphne"], choices=sorted(TARGETS), help="in turn"
    )
    parser.add_argument(
        "--redis", action="store_true", help="share a throwaway redis-server (REDIS_URL)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="record into a throwaway PostgreSQL cluster"
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout to serve each target from, first"
    )
    parser.add_argument(
        "--worker-cpu",
        type=float,
        metavar="SHARE",
        help="cap each worker process at this share of one core (a cgroup; needs root), so "
        "that the workers, not the machine, limit the throughput (bench/processes.py)",
    )
    options = parser.parse_args()
    if options.worker_cpu is not None and not 0 < options.worker_cpu <= 1:
        raise SystemExit("--worker-cpu must be above 0 and at most 1 (a share of one core)")
    if options.requests < 1 or options.concurrency < 1:
        raise SystemExit("--requests and --concurrency must be positive")
    rows = []
    with contextlib.ExitStack() as stack:
        redis_url = None
        if options.redis:
            redis = RedisServer()
            stack.callback(redis.stop)
            redis_url = redis.url
        cluster = stack.enter_context(postgres.cluster()) if options.postgres else None
        upstream, env = stack.enter_context(emulator_and_env(redis_url, cluster))
        checkouts = (
            [(f" ({commit(options.baseline)})", options.baseline)] if options.baseline else []
        )
        checkouts.append((f" ({commit(PROJECT)})" if options.baseline else "", PROJECT))
        for target in options.targets:
            for label, project in checkouts:
                with relay(target, env, project, options.worker_cpu) as (url, pid):
                    for row in asyncio.run(
                        run(url, upstream, options.requests, options.concurrency, pid)
                    ):
                        rows.append((TARGETS[target] + label, *row))
    print(
        f"{options.requests} requests per row; {os.cpu_count()} CPUs; Python "
        f"{sys.version.split()[0]}; {'PostgreSQL' if options.postgres else 'SQLite'}"
        f"{', Redis' if options.redis else ''}\n"
    )
    print(
        "| server | request | concurrency | relay p50 / p99 ms | direct p50 / p99 ms "
        "| added p50 / p99 ms | relay req/s | direct req/s | relay CPU ms/request |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for server, name, level, relayed, direct in rows:
        print(
            f"| {server} | {name} | {level} "
            f"| {relayed.percentile(0.5):.2f} / {relayed.percentile(0.99):.2f} "
            f"| {direct.percentile(0.5):.2f} / {direct.percentile(0.99):.2f} "
            f"| {relayed.percentile(0.5) - direct.percentile(0.5):.2f} / "
            f"{relayed.percentile(0.99) - direct.percentile(0.99):.2f} "
            f"| {relayed.rate:.0f} | {direct.rate:.0f} | {relayed.cpu_ms_per_request:.2f} |"
        )


if __name__ == "__main__":
    main()
