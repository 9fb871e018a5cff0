"""A throwaway PostgreSQL cluster on loopback, in a temporary folder, from Debian's
``postgresql`` package: `make test-postgres` runs the suites on one.

    python -m tests.support.postgres -- COMMAND [ARG...]

starts a cluster, runs COMMAND with ``TEST_DATABASE_URL`` naming it, then stops the cluster
and removes its folder; it exits with COMMAND's status. The cluster keeps PostgreSQL's
default ``max_connections`` (100), the limit production servers meet, and skips fsync (its
data is thrown away).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.ports import free_port

SUPERUSER = "postgres"


def server_bin() -> Path:
    """The newest installed server's bin folder (Debian keeps each major version apart)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if not found:
        raise SystemExit(
            "PostgreSQL's server is not installed: `make deps` installs Debian's postgresql "
            "package (or: sudo apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _major_version(initdb: str) -> int:
    return int(Path(initdb).parts[-3])


def _as_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the package's postgres user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SUPERUSER, "--", *command]


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yield its superuser URL; stop it and remove its folder."""
    bindir = server_bin()
    folder = Path(tempfile.mkdtemp(prefix="voiceproject-postgres-"))
    data = folder / "data"
    port = free_port()
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "initdb"),
                    "--pgdata",
                    str(data),
                    "--username",
                    SUPERUSER,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            **run,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        started = subprocess.run(
            _as_owner(
                [
                    str(bindir / "pg_ctl"),
                    "--pgdata",
                    str(data),
                    "--log",
                    str(folder / "server.log"),
                    "--options",
                    options,
                    "--wait",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if started.returncode != 0:
            log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
            raise SystemExit(f"PostgreSQL did not start:\n{started.stdout}{started.stderr}{log}")
        try:
            yield f"postgres://{SUPERUSER}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_owner(
                    [str(bindir / "pg_ctl"), "--pgdata", str(data), "--mode", "fast", "stop"]
                ),
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m tests.support.postgres -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    with cluster() as url:
        print(f"PostgreSQL on loopback for the tests: {url}", flush=True)
        return subprocess.run(argv, env={**os.environ, "TEST_DATABASE_URL": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
