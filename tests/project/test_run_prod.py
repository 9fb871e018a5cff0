"""`make run-prod`: the documented way to run several processes on one machine. It checks,
migrates and collects the static files, then serves with uvicorn's workers on one port;
SIGTERM (what systemd sends every process of the unit) stops them all gracefully."""

from __future__ import annotations

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
    }
    process = subprocess.Popen(
        [
            "make",
            "-s",
            "run-prod",
            f"PROCESSES={PROCESSES}",
            "HOST=127.0.0.1",
            f"PORT={unused_tcp_port}",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    yield process, f"http://127.0.0.1:{unused_tcp_port}"
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_run_prod_serves_with_several_workers_and_stops_them_all_on_sigterm(run_prod):
    process, url = run_prod

    def healthy() -> httpx.Response | None:
        assert process.poll() is None, process.stdout.read()
        try:
            return httpx.get(f"{url}/healthz", timeout=5)
        except httpx.TransportError:
            return None

    health = wait_for(healthy, 120, what="make run-prod to serve", every=0.5)
    page = httpx.get(f"{url}/", timeout=10)
    running = workers(process.pid)
    os.killpg(process.pid, signal.SIGTERM)  # as systemd stops a unit: every process of it
    status = process.wait(60)
    output = process.stdout.read()

    assert health.json()["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"}
    assert page.status_code == 200
    assert "/static/realtime/app." in page.text  # collected: the hashed name
    assert len(running) == PROCESSES, session_processes(process.pid)
    # make itself dies of the signal; uvicorn's parent and each worker stop as they should.
    assert status in (0, -signal.SIGTERM), output
    assert output.count("Application shutdown complete.") == PROCESSES, output
    assert "Stopping parent process" in output
    wait_for(lambda: session_processes(process.pid) == [], 10, what="every process to exit")
    assert "Traceback" not in output
