"""The browser tests themselves: a browser that cannot start is a failure with its reason."""

import subprocess
import sys

from tests.support.servers import PROJECT

A_BROWSER_TEST = "tests/browser/test_voice_chat_page.py::test_the_transport_choice_is_remembered"


def test_a_browser_test_without_its_browser_fails_with_the_reason(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", A_BROWSER_TEST],
        cwd=PROJECT,
        env={"PATH": "/usr/bin:/bin", "CHROMIUM": str(tmp_path / "no-chromium")},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1, run.stdout
    assert "1 failed" in run.stdout
    assert "error" not in run.stdout.splitlines()[-1]
    assert "skipped" not in run.stdout
    assert f"{tmp_path / 'no-chromium'} is missing: `make deps` installs it" in run.stdout
