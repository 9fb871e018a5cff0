"""`make run-prod`: the documented way to run several processes on one machine. It checks,
migrates and collects the static files, then serves with uvicorn's workers on one port;
SIGTERM (what systemd sends every process of the unit) stops them all gracefully."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import fresh_database_url
from tests.support.polling import wait_for
from tests.support.servers import PROJECT

PROCESSES = 2
MINTS = 20
METRICS_TOKEN = "run-prod-metrics-token"


async def mint(url: str, count: int) -> list[int]:
    """``count`` mints at once, each on a connection of its own (spread over the workers)."""

    async def one() -> int:
        async with httpx.AsyncClient(base_url=url, timeout=30) as browser:
            page = await browser.get("/")
            answer = await browser.post(
                "/api/realtime/client-secret",
                headers={"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{url}/"},
            )
            return answer.status_code

    return list(await asyncio.gather(*(one() for _ in range(count))))


def session_processes(session_id: int) -> list[str]:
    """The command lines of the live processes of one session (make, uvicorn and its
    workers; an exited one not reaped yet has none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != session_id:
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ProcessLookupError):
            continue  # exited meanwhile
        if command:
            found.append(command)
    return found


def workers(session_id: int) -> list[str]:
    return [line for line in session_processes(session_id) if "spawn_main" in line]


@pytest.fixture
def run_prod(emulator, redis_server, tmp_path, unused_tcp_port) -> Iterator:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],
        "ENV_FILES": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain http on loopback: no TLS here to redirect to.
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "DATABASE_URL": fresh_database_url(tmp_path / "db.sqlite3"),
        "REDIS_URL": redis_server.url,
        "STATIC_ROOT": str(tmp_path / "static"),
        "OPENAI_API_KEY": "sk-test-server-key",
        "OPENAI_BASE_URL": emulator.base_url,
        "REALTIME_METRICS_TOKEN": METRICS_TOKEN,
        "REALTIME_RATE_LIMIT": "0",
    }
    process = subprocess.Popen(
        [
            "make",
            "-s",
            "run-prod",
            f"PROCESSES={PROCESSES}",
            "HOST=127.0.0.1",
            f"PORT={unused_tcp_port}",
            f"METRICS_DIR={tmp_path / 'metrics'}",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    yield process, f"http://127.0.0.1:{unused_tcp_port}", tmp_path / "metrics"
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_run_prod_serves_with_several_workers_and_stops_them_all_on_sigterm(run_prod):
    process, url, metrics_dir = run_prod

    def healthy() -> httpx.Response | None:
        assert process.poll() is None, process.stdout.read()
        try:
            return httpx.get(f"{url}/healthz", timeout=5)
        except httpx.TransportError:
            return None

    health = wait_for(healthy, 120, what="make run-prod to serve", every=0.5)
    page = httpx.get(f"{url}/", timeout=10)
    minted = asyncio.run(mint(url, MINTS))
    scraped = httpx.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    running = workers(process.pid)
    os.killpg(process.pid, signal.SIGTERM)  # as systemd stops a unit: every process of it
    status = process.wait(60)
    output = process.stdout.read()

    assert health.json()["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"}
    assert page.status_code == 200
    assert "/static/realtime/app." in page.text  # collected: the hashed name
    assert minted == [200] * MINTS
    # Whichever worker answers the scrape counts every worker's mints.
    assert (
        f'realtime_exchanges_total{{kind="client_secret",outcome="ok"}} {MINTS}.0' in scraped.text
    )
    writers = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("*.db")}
    assert len(writers) == PROCESSES
    assert len(running) == PROCESSES, session_processes(process.pid)
    # make itself dies of the signal; uvicorn's parent and each worker stop as they should.
    assert status in (0, -signal.SIGTERM), output
    assert output.count("Application shutdown complete.") == PROCESSES, output
    assert "Stopping parent process" in output
    wait_for(lambda: session_processes(process.pid) == [], 10, what="every process to exit")
    assert "Traceback" not in output
