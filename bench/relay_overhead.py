"""What the relay adds: mint and handshake through daphne vs straight to the same upstream.

Starts the loopback fake of OpenAI's HTTP endpoints and daphne (as `make run` does, with
diagnostics recorded to a fresh SQLite file) as separate processes, then in one run sends
the same requests through the relay and straight to the upstream, sequentially (latency)
and concurrently (throughput). Prints a Markdown table for the README.

    .venv/bin/python bench/relay_overhead.py [--requests 500] [--concurrency 8]

Loopback only; every loop is bounded by --requests.
"""

from __future__ import annotations

import argparse
import asyncio
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

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVER_KEY = "sk-bench-server-key"
OFFER = (
    b"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    b"a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\na=mid:0\r\n"
    b"a=rtpmap:111 opus/48000/2\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    b"a=mid:1\r\na=sctp-port:5000\r\n"
) + b"a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host\r\n" * 40

Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Sample:
    latencies_ms: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


async def measure(send: Send, requests: int, concurrency: int, expect: int) -> Sample:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(min(50, requests)):  # warm up connections and caches
            await send(client)
        latencies: list[float] = []
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                response = await send(client)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != expect:
                    raise SystemExit(f"got {response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Sample(latencies, time.perf_counter() - started)


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """Start the fake upstream and daphne; yield (relay URL, upstream base URL)."""
    upstream_port, relay_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1"
    workdir = tempfile.mkdtemp(prefix="relay-bench-")
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILES": "",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 44,
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
        "OPENAI_API_KEY": SERVER_KEY,
        "OPENAI_BASE_URL": upstream,
        "REALTIME_RATE_LIMIT": "0",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=PROJECT, env=env, check=True
    )
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_openai", "--port", str(upstream_port)],
            cwd=PROJECT,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                str(BIN / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(relay_port),
                "voiceproject.asgi:application",
            ],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_for_port(upstream_port, started[0])
        wait_for_port(relay_port, started[1])
        yield f"http://127.0.0.1:{relay_port}", upstream
    finally:
        for process in started:
            process.send_signal(signal.SIGINT)
            process.wait(10)


async def run(
    relay: str, upstream: str, requests: int, concurrency: int
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
    browser_headers = {"X-CSRFToken": csrf, "Cookie": f"csrftoken={csrf}"}
    server_auth = {"Authorization": f"Bearer {SERVER_KEY}"}
    sdp_with_secret = {"Content-Type": "application/sdp", "Authorization": f"Bearer {secret}"}
    session = b'{"type":"realtime","model":"gpt-realtime"}'
    mint_body = {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {"type": "realtime", "model": "gpt-realtime"},
    }
    cases: list[tuple[str, int, Send, Send]] = [
        (
            "mint (client secret)",
            200,
            lambda c: c.post(f"{relay}/api/realtime/client-secret", headers=browser_headers),
            lambda c: c.post(
                f"{upstream}/realtime/client_secrets", headers=server_auth, json=mint_body
            ),
        ),
        (
            "handshake, ek_ secret",
            201,
            lambda c: c.post(
                f"{relay}/api/realtime/handshake", content=OFFER, headers=sdp_with_secret
            ),
            lambda c: c.post(
                f"{upstream}/realtime/calls?model=gpt-realtime",
                content=OFFER,
                headers=sdp_with_secret,
            ),
        ),
        (
            "handshake, unified",
            201,
            lambda c: c.post(
                f"{relay}/api/realtime/handshake",
                content=OFFER,
                headers={**browser_headers, "Content-Type": "application/sdp"},
            ),
            lambda c: c.post(
                f"{upstream}/realtime/calls?model=gpt-realtime",
                headers=server_auth,
                files={
                    "sdp": (None, OFFER, "application/sdp"),
                    "session": (None, session, "application/json"),
                },
            ),
        ),
    ]
    results = []
    for name, expect, through_relay, direct in cases:
        for level in (1, concurrency):
            relayed = await measure(through_relay, requests, level, expect)
            straight = await measure(direct, requests, level, expect)
            results.append((name, level, relayed, straight))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    if options.requests < 1 or options.concurrency < 1:
        raise SystemExit("--requests and --concurrency must be positive")
    with servers() as (relay, upstream):
        results = asyncio.run(run(relay, upstream, options.requests, options.concurrency))
    print(
        f"{options.requests} requests per row; {os.cpu_count()} CPUs; Python "
        f"{sys.version.split()[0]}\n"
    )
    print(
        "| request | concurrency | relay p50 / p99 ms | direct p50 / p99 ms "
        "| added p50 / p99 ms | relay req/s | direct req/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, level, relay, direct in results:
        print(
            f"| {name} | {level} "
            f"| {relay.percentile(0.5):.2f} / {relay.percentile(0.99):.2f} "
            f"| {direct.percentile(0.5):.2f} / {direct.percentile(0.99):.2f} "
            f"| {relay.percentile(0.5) - direct.percentile(0.5):.2f} / "
            f"{relay.percentile(0.99) - direct.percentile(0.99):.2f} "
            f"| {relay.rate:.0f} | {direct.rate:.0f} |"
        )


if __name__ == "__main__":
    main()
