"""`make deps`: the system packages `make run` and `make test` need, installed when missing.

The real Makefile runs under real make and sh; only the commands that would change or
describe the machine (apt-get, id) and the packages' programs are stand-ins on PATH.
"""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
ALL_PACKAGES = "nodejs npm chromium postgresql redis-server nginx systemd"


def executable(path: Path, script: str = "") -> Path:
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class Machine:
    """A PATH with only what a test puts on it, plus a record of what apt-get was asked."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.apt_log = root / "apt.log"
        self.chromium = root / "chromium"
        self.postgres = root / "postgres"
        self.nginx = root / "nginx"
        self.uid = 0

    def has(self, *programs: str) -> None:
        for program in programs:
            if program == "chromium":
                executable(self.chromium)
            elif program == "postgres":
                executable(self.postgres)
            elif program == "nginx":
                executable(self.nginx)
            else:
                executable(self.bin / program)

    def has_apt_get(self) -> None:
        executable(self.bin / "apt-get", f'echo "$*" >> {self.apt_log}')

    def make(self, *goals: str) -> subprocess.CompletedProcess:
        executable(self.bin / "id", f'[ "$1" = -u ] && echo {self.uid}')
        return subprocess.run(
            [
                MAKE,
                "--no-print-directory",
                "-s",
                *goals,
                f"CHROMIUM={self.chromium}",
                f"POSTGRES_SERVERS={self.postgres}",
                f"NGINX={self.nginx}",
            ],
            cwd=PROJECT,
            env={"PATH": str(self.bin), "PYTHON": sys.executable, "HOME": os.environ["HOME"]},
            capture_output=True,
            text=True,
            timeout=60,
        )

    @property
    def apt_calls(self) -> list[str]:
        return self.apt_log.read_text().splitlines() if self.apt_log.exists() else []


def our_lines(stderr: str) -> list[str]:
    """What the Makefile printed, without make's own "*** … Error 1" trailer."""
    return [line for line in stderr.splitlines() if not line.startswith("make: ***")]


@pytest.fixture
def machine(tmp_path) -> Machine:
    return Machine(tmp_path)


def test_make_deps_does_nothing_when_every_package_is_present(machine):
    machine.has("node", "npm", "chromium", "postgres", "redis-server", "nginx", "systemd-analyze")
    machine.has_apt_get()

    done = machine.make("deps")

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert machine.apt_calls == []


def test_make_deps_installs_what_is_missing_with_apt_get_as_root(machine):
    machine.has_apt_get()

    done = machine.make("deps")

    assert done.returncode == 0, done.stderr
    assert machine.apt_calls == [
        "update -qq",
        f"install -y --no-install-recommends {ALL_PACKAGES}",
    ]


def test_make_deps_names_the_packages_and_the_command_when_not_root(machine):
    machine.has("node", "npm", "postgres", "redis-server", "nginx", "systemd-analyze")
    machine.has_apt_get()
    machine.uid = 1000

    done = machine.make("deps")

    assert done.returncode != 0
    assert our_lines(done.stderr) == [
        "make deps: missing system packages: chromium; install them, then run make again: "
        "sudo apt-get install chromium"
    ]
    assert machine.apt_calls == []


def test_make_deps_stops_with_one_line_where_there_is_no_apt_get(machine):
    done = machine.make("deps")

    assert done.returncode != 0
    [line] = our_lines(done.stderr)
    assert f"missing system packages: {ALL_PACKAGES};" in line


@pytest.mark.parametrize(
    ("goal", "packages"),
    [("run", "python3-venv"), ("test", f"python3-venv {ALL_PACKAGES}")],
)
def test_make_run_and_make_test_check_the_packages_they_need_first(machine, goal, packages):
    planned = machine.make("--dry-run", goal)

    assert planned.returncode == 0, planned.stderr
    first_check = planned.stdout.index("for package in")
    assert f"for package in {packages}; do" in planned.stdout
    assert planned.stdout.index("ruff" if goal == "test" else "daphne") > first_check
