"""The distribution: the app needs only what it imports, the emulator is an extra, and asking
for the emulator without it fails with one line naming the extra."""

import os
import subprocess
import sys
from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement

from tests.support.servers import PROJECT

EMULATOR_STACK = {"aiortc", "aioice", "av", "numpy", "uvicorn"}
PROJECT_STACK = {
    "daphne",
    "django-environ",
    "django-permissions-policy",
    "django-csp",
    "whitenoise",
    "python-json-logger",
}
INSTALL_LINE = "pip install 'voiceproject[emulator]'"


def requirements(extra: str | None = None) -> set[str]:
    """The names `pip install .` installs, or what `.[extra]` adds to them."""
    chosen = set()
    for requirement in map(Requirement, requires("voiceproject")):
        marker = requirement.marker
        if marker is None if extra is None else marker and marker.evaluate({"extra": extra}):
            chosen.add(requirement.name.lower())
    return chosen


def test_the_app_alone_needs_no_emulator_or_project_packages():
    assert requirements() == {"django", "channels", "httpx", "websockets", "orjson", "pydantic"}


def test_the_emulator_and_the_project_are_extras():
    assert requirements("emulator") == EMULATOR_STACK
    assert requirements("project") == PROJECT_STACK


@pytest.fixture
def without_the_emulator_stack(tmp_path) -> dict[str, str]:
    """An environment whose Python cannot import aiortc, as without the extra."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['aiortc'] = None\n")
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT)]),
        "ENV_FILES": "",
        "DEBUG": "true",
        "SECRET_KEY": "packaging-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_emulator_without_its_extra_stops_the_project_with_one_line(
    without_the_emulator_stack,
):
    started = run(without_the_emulator_stack, "manage.py", "check")

    assert started.returncode != 0
    assert started.stderr.strip().splitlines() == [
        "voiceproject: configuration error: REALTIME_EMULATOR=True needs the emulator's "
        f"packages, which are not installed: {INSTALL_LINE}"
    ]


def test_running_the_emulator_without_its_extra_says_which_extra_in_one_line(
    without_the_emulator_stack,
):
    started = run(without_the_emulator_stack, "-m", "realtime.emulator", "--port", "0")

    assert started.returncode != 0
    assert started.stderr.strip().splitlines() == [
        f"realtime emulator: aiortc missing; {INSTALL_LINE}"
    ]
