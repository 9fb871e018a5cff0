"""Real servers in subprocesses: the project under daphne (as `make run` starts it),
`manage.py runserver` and uvicorn, each with its own migrated database (a SQLite file, or a
PostgreSQL database under `make test-postgres`: tests.support.databases)."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.support.databases import fresh_database_url, query
from tests.support.polling import wait_for

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The servers' SECRET_KEY, so tests can sign what such a server would (an expired token).
SERVER_SECRET_KEY = "integration-" + "x" * 40


class Server:
    """A server process whose combined output is collected line by line."""

    def __init__(self, command: list[str], env: dict[str, str], ready_text: str) -> None:
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._ready_text = ready_text
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group, so that kill() also ends the child runserver's
            # autoreloader starts.
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if self._ready_text in line:
                self._ready.set()
        self._ready.set()  # exited: stop waiting

    def wait_ready(self, timeout: float = 30) -> None:
        assert self._ready.wait(timeout), "the server did not start:\n" + self.output
        assert self.process.poll() is None, "the server exited:\n" + self.output

    def interrupt(self, timeout: float = 30) -> int:
        """Stop it as Ctrl-C would; return its exit status once its output is read."""
        self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the server did not stop within {timeout} s of SIGINT:\n{self.output}"
            ) from None
        self._reader.join(timeout)
        return status

    def rows(self, sql: str, *params: object) -> list[dict]:
        """Rows of the server's own database (``?`` placeholders, as SQLite spells them)."""
        return query(self.env["DATABASE_URL"], sql, *params)

    def ended_session(self, user_agent: str, timeout: float = 10) -> dict:
        """The ended session row a client with this User-Agent left (the server writes it
        as the session ends, which may be just after the client saw the close)."""
        return wait_for(
            lambda: next(
                iter(
                    self.rows(
                        "select * from realtime_realtimesession where user_agent = ? "
                        "and ended_at is not null order by id desc",
                        user_agent,
                    )
                ),
                None,
            ),
            timeout,
            what=f"an ended session row for {user_agent}",
        )

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def project_env(database: Path, openai_base_url: str, cluster: str | None = None) -> dict[str, str]:
    """A fresh project environment: its own migrated database (``database``, a SQLite file,
    unless the tests run on PostgreSQL or ``cluster`` names one), the given upstream."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONUNBUFFERED": "1",  # so output arrives line by line
        "ENV_FILES": "",
        "DEBUG": "true",
        "SECRET_KEY": SERVER_SECRET_KEY,
        "DATABASE_URL": fresh_database_url(database, cluster),
        "OPENAI_API_KEY": "sk-test-server-key",
        "OPENAI_BASE_URL": openai_base_url,
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=PROJECT,
        env=env,
        check=True,
        timeout=120,
    )
    return env


# Production's settings, served over plain http on loopback: no TLS there to redirect to.
PLAIN_HTTP_PRODUCTION = {
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
}


def collect_static(env: dict[str, str], static_root: Path) -> dict[str, str]:
    """Run `manage.py collectstatic` as a deploy does (production's hashed, compressed
    storage) into ``static_root``; ``env`` with STATIC_ROOT naming it."""
    env = {**env, "STATIC_ROOT": str(static_root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=PROJECT,
        env={**env, "DEBUG": "false"},
        check=True,
        timeout=120,
    )
    return env


# How each server is started, and the line it prints once it listens. Only the command line
# names the address: the app learns nothing of it.
SERVER_COMMANDS = {
    "daphne": (
        [str(BIN / "daphne"), "-b", "{host}", "-p", "{port}", "voiceproject.asgi:application"],
        "Listening on TCP address",
    ),
    # As a newcomer runs it: with the autoreloader, whose child process serves.
    "runserver": (
        [sys.executable, "manage.py", "runserver", "{address}"],
        "Listening on TCP address",
    ),
    "uvicorn": (
        [
            str(BIN / "uvicorn"),
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--ws",
            "websockets-sansio",
            "voiceproject.asgi:application",
        ],
        "Uvicorn running on",
    ),
}


def run_server(
    kind: str, env: dict[str, str], port: int, host: str = "127.0.0.1", **overrides: str
) -> Server:
    """Start the project under ``kind`` (see SERVER_COMMANDS) on ``host`` and ``port``."""
    command, ready_text = SERVER_COMMANDS[kind]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server = Server(
        [part.format(host=host, port=port, address=address) for part in command],
        {**env, **overrides},
        ready_text=ready_text,
    )
    server.url = f"http://{address}"
    server.websocket_url = f"ws://{address}"
    server.env = {**env, **overrides}
    server.wait_ready()
    return server


def run_daphne(env: dict[str, str], port: int, **overrides: str) -> Server:
    """daphne as `make run` starts it, on ``port``, with environment overrides."""
    return run_server("daphne", env, port, **overrides)


def create_superuser(env: dict[str, str], username: str, password: str) -> None:
    """Add a superuser to the project database ``env`` names (as an operator would)."""
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            f"{username}@example.com",
        ],
        cwd=PROJECT,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": password},
        check=True,
        capture_output=True,
        timeout=60,
    )


def sign_in(server: Server, username: str, password: str) -> dict[str, str]:
    """Sign in through the admin's login form; the session and CSRF cookies."""
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        form = browser.get("/admin/login/")
        answer = browser.post(
            "/admin/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": form.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": server.url + "/admin/login/"},
        )
        assert answer.status_code == 302, answer.text
        return dict(browser.cookies)


def manage(server: Server, *arguments: str) -> subprocess.CompletedProcess:
    """Run a ``manage.py`` command with ``server``'s settings, as an operator would."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def mint_secret(server: Server, *flags: str) -> dict:
    """``manage.py mint_secret --json`` against ``server``'s settings: its answer."""
    return json.loads(manage(server, "mint_secret", "--json", *flags).stdout)
