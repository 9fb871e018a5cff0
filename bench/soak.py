"""Soak: mixed load with faults injected at random, for minutes; nothing lost, nothing leaks.

It starts the emulator and the project under daphne (SQLite, as `make run` has it; or, with
--processes 2 --postgres --redis, two daphne processes sharing a PostgreSQL cluster and a
redis-server it starts on loopback, the clients spread over both), then for --minutes keeps
up at once: proxied WebSocket sessions streaming real-time audio (a spoken
turn every 4 s, each session living 5-30 s before the next replaces it), and browser-like
HTTP clients that mint a secret, relay an offer (the ephemeral or the unified flow) and hang
the call up. Every few seconds it injects one fault at random into the emulator (5xx, 429,
401, a hang past the read timeout, a slow answer, an answer cut off halfway, a dropped or
refused WebSocket).

It reports the requests made against the rows recorded, by kind (they must be equal, and no
session row may stay open), the answers by error code, the server's resident memory and
open file descriptors after warming up and at the end (they must be flat), and latency
percentiles by kind.

    .venv/bin/python bench/soak.py --minutes 10
    .venv/bin/python bench/soak.py --minutes 10 --processes 2 --postgres --redis

Loopback only; it stops by itself after --minutes (at most 60).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.emulator_load import percentile, resident_mib  # noqa: E402
from bench.relay_overhead import browser_offer, free_port  # noqa: E402
from bench.ws_proxy import cycle_frames  # noqa: E402
from realtime.emulator.testing import EmulatorProcess  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402
from tests.support.redis import RedisServer  # noqa: E402
from tests.support.servers import Server, project_env, run_daphne  # noqa: E402

FRAME_SECONDS = 0.02
HTTP_FAULTS = [
    {"status": 500},
    {"status": 503},
    {"status": 429, "retry_after": 1},
    {"status": 401},
    {"hang": True},
    {"delay_ms": 300},
    {"truncate": True},
]
SOCKET_FAULTS = [{"status": 500}, {"never_open": True}, {"drop_after_events": 40}]
SERVER_SETTINGS = {
    "DEBUG": "false",
    # Plain http on loopback: no https redirect, cookies (CSRF) over http.
    "SECURE_SSL_REDIRECT": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SESSION_COOKIE_SECURE": "false",
    "REALTIME_RATE_LIMIT": "0",
    "REALTIME_PROXY_MAX_SESSIONS_PER_USER": "1000",
    "REALTIME_CONNECT_TIMEOUT": "2",
    "REALTIME_READ_TIMEOUT": "2",
}


@dataclass
class Tally:
    made: Counter = field(default_factory=Counter)  # requests per exchange kind
    answers: Counter = field(default_factory=Counter)  # by error code, "ok" when none
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def timed(self, kind: str, started: float) -> None:
        self.made[kind] += 1
        self.latency_ms[kind].append((time.perf_counter() - started) * 1000)


def error_code(response: httpx.Response) -> str:
    if response.status_code < 400:
        return "ok"
    try:
        return response.json()["error"]["code"] or f"http_{response.status_code}"
    except (ValueError, KeyError, TypeError):
        return f"not_json_{response.status_code}"  # never expected: counted to be seen


async def browser_loop(server: Server, offer: bytes, tally: Tally, deadline: float) -> None:
    """Mint, relay an offer (ephemeral or unified, at random), hang up; again until the end."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as browser:
        page = await browser.get("/")
        csrf = {"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{server.url}/"}
        while time.monotonic() < deadline:
            started = time.perf_counter()
            minted = await browser.post("/api/realtime/client-secret", headers=csrf)
            tally.timed("client_secret", started)
            tally.answers[error_code(minted)] += 1
            headers = {"Content-Type": "application/sdp"}
            if minted.status_code == 200 and random.random() < 0.5:
                headers["Authorization"] = f"Bearer {minted.json()['value']}"
            else:
                headers.update(csrf)
            started = time.perf_counter()
            answer = await browser.post("/api/realtime/handshake", content=offer, headers=headers)
            tally.timed("call", started)
            tally.answers[error_code(answer)] += 1
            if answer.status_code == 201:
                started = time.perf_counter()
                call_id = answer.headers["X-Realtime-Call-Id"]
                hung_up = await browser.post(
                    "/api/realtime/hangup", json={"call_id": call_id}, headers=csrf
                )
                tally.timed("hangup", started)
                tally.answers[error_code(hung_up)] += 1
            await asyncio.sleep(0.1)


async def socket_loop(server: Server, frames: list[str], tally: Tally, deadline: float) -> None:
    """One proxied session after another, each streaming audio for 5-30 s."""
    while time.monotonic() < deadline:
        started = time.perf_counter()
        lifetime = min(random.uniform(5, 30), deadline - time.monotonic())
        try:
            async with websockets.connect(
                f"{server.websocket_url}/ws/realtime/",
                additional_headers={"Origin": server.url},
                compression=None,
                max_size=None,
                open_timeout=30,
            ) as session:
                tally.made["websocket"] += 1
                first = json.loads(await asyncio.wait_for(session.recv(), 30))
                tally.latency_ms["websocket"].append((time.perf_counter() - started) * 1000)
                if first["type"] == "error":
                    tally.answers[first["error"]["code"]] += 1
                    continue
                reader = asyncio.ensure_future(drain(session))
                began = asyncio.get_running_loop().time()
                for index in range(int(lifetime / FRAME_SECONDS)):
                    await asyncio.sleep(
                        max(0.0, began + index * FRAME_SECONDS - asyncio.get_running_loop().time())
                    )
                    await session.send(frames[index % len(frames)])
                reader.cancel()
                tally.answers["ok"] += 1
        except websockets.ConnectionClosed as closed:
            reason = closed.rcvd.reason if closed.rcvd else ""
            tally.answers[reason.rsplit(".", 1)[-1] or f"close_{closed.code}"] += 1
        except (OSError, TimeoutError) as error:
            tally.answers[f"client_{type(error).__name__}"] += 1


async def drain(session: websockets.ClientConnection) -> None:
    """Read everything the server sends; its close is the sender's to report."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in session:
            pass


async def inject_faults(emulator: EmulatorProcess, deadline: float, every: float) -> Counter:
    injected: Counter = Counter()
    while time.monotonic() < deadline - every:
        await asyncio.sleep(every)
        if random.random() < 0.3:
            endpoint, fault = "realtime", random.choice(SOCKET_FAULTS)
        else:
            endpoint = random.choice(["client_secrets", "calls", "hangup"])
            fault = random.choice(HTTP_FAULTS)
        await asyncio.to_thread(emulator.fault, endpoint, **fault)
        injected[f"{endpoint}: {', '.join(f'{k}={v}' for k, v in fault.items())}"] += 1
    return injected


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def soak(
    minutes: float,
    sessions: int,
    browsers: int,
    fault_every: float,
    processes: int = 1,
    cluster: str | None = None,
    redis_url: str | None = None,
) -> None:
    emulator = EmulatorProcess().start()
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    env = project_env(workdir / "soak.sqlite3", emulator.base_url, cluster=cluster)
    if redis_url:
        env["REDIS_URL"] = redis_url
    servers = [run_daphne(env, free_port(), **SERVER_SETTINGS) for _ in range(processes)]
    server = servers[0]  # every process records into the same database
    pids = [each.process.pid for each in servers]
    try:
        offer = await browser_offer()
        frames = cycle_frames()
        tally = Tally()
        seconds = minutes * 60
        warm_up = min(30.0, seconds / 5)
        deadline = time.monotonic() + seconds
        loads = [
            *(
                socket_loop(servers[index % processes], frames, tally, deadline)
                for index in range(sessions)
            ),
            *(
                browser_loop(servers[index % processes], offer, tally, deadline)
                for index in range(browsers)
            ),
        ]
        running = [asyncio.ensure_future(load) for load in loads]
        faults = asyncio.ensure_future(inject_faults(emulator, deadline, fault_every))
        await asyncio.sleep(warm_up)
        start = [(resident_mib(pid), open_fds(pid)) for pid in pids]
        await asyncio.gather(*running)
        injected = await faults
        # Sessions end a moment after their clients leave: let the last rows land.
        wait_for(
            lambda: (
                not server.rows(
                    "select id from realtime_realtimesession where ended_at is null "
                    "and transport = 'websocket'"
                )
            ),
            timeout=30,
            what="every proxied session row to end",
        )
        end = [(resident_mib(pid), open_fds(pid)) for pid in pids]
        recorded = {
            row["kind"]: row["n"]
            for row in server.rows(
                "select kind, count(*) as n from realtime_upstreamexchange group by kind"
            )
        }
        setup = (
            f"{processes} daphne process{'es' if processes > 1 else ''} on "
            f"{'PostgreSQL' if cluster else 'SQLite'}{' and Redis' if redis_url else ''}"
        )
        report(minutes, sessions, browsers, tally, recorded, injected, start, end, setup)
    finally:
        for each in servers:
            each.kill()
        emulator.stop()


def report(
    minutes: float,
    sessions: int,
    browsers: int,
    tally: Tally,
    recorded: dict[str, int],
    injected: Counter,
    start: list[tuple[float, int]],
    end: list[tuple[float, int]],
    setup: str,
) -> None:
    print(
        f"\nsoak: {minutes:g} min, {setup}, {sessions} proxied sessions and {browsers} browsers "
        f"at once, {sum(injected.values())} faults injected; {os.cpu_count()} CPUs\n"
    )
    print("| kind | requests made | rows recorded | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("client_secret", "call", "hangup", "websocket"):
        latencies = tally.latency_ms[kind]
        print(
            f"| {kind} | {tally.made[kind]} | {recorded.get(kind, 0)} | "
            f"{percentile(latencies, 0.5):.1f} | {percentile(latencies, 0.99):.1f} |"
        )
    print("\n| answer | count |\n|---|---:|")
    for code, count in tally.answers.most_common():
        print(f"| {code} | {count} |")
    for number, (before, after) in enumerate(zip(start, end, strict=True), 1):
        print(
            f"\nserver {number} after warm-up: {before[0]:.1f} MiB resident, {before[1]} open "
            f"files; at the end: {after[0]:.1f} MiB, {after[1]} open files"
        )
    lost = {kind: tally.made[kind] - recorded.get(kind, 0) for kind in tally.made}
    print(
        "requests without a row: " + (", ".join(f"{k} {v}" for k, v in lost.items() if v) or "none")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5, help="how long, at most 60")
    parser.add_argument("--sessions", type=int, default=10, help="proxied sessions at once")
    parser.add_argument("--browsers", type=int, default=2, help="HTTP clients at once")
    parser.add_argument("--fault-every", type=float, default=3, help="seconds between faults")
    parser.add_argument("--processes", type=int, default=1, help="daphne processes, 1 or more")
    parser.add_argument(
        "--postgres", action="store_true", help="record into a throwaway PostgreSQL cluster"
    )
    parser.add_argument(
        "--redis", action="store_true", help="share a throwaway redis-server (REDIS_URL)"
    )
    options = parser.parse_args()
    if not 0 < options.minutes <= 60:
        parser.error("--minutes must be more than 0 and at most 60")
    if options.processes < 1:
        parser.error("--processes must be 1 or more")
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(postgres.cluster()) if options.postgres else None
        redis_url = None
        if options.redis:
            redis = RedisServer()
            stack.callback(redis.stop)
            redis_url = redis.url
        asyncio.run(
            soak(
                options.minutes,
                options.sessions,
                options.browsers,
                options.fault_every,
                options.processes,
                cluster,
                redis_url,
            )
        )


if __name__ == "__main__":
    main()
