"""The page in a real browser: Debian's Chromium driven by Playwright, with a fake
microphone that plays synthesised speech, against daphne serving the app and the emulator."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    LOOPBACK_PEERS,
    ONE_TURN,
    microphone_flag,
    write_microphone,
)
from tests.support.servers import PROJECT, Server, project_env, run_daphne

ARTIFACTS = PROJECT / "artifacts"
# The page's own code is not instrumented; this only lets a test see every microphone
# stream the page opened, to check that Stop ends them.
RECORD_STREAMS = """
window.__streams = [];
const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
  const stream = await original(constraints);
  window.__streams.push(stream);
  return stream;
};
"""


@pytest.fixture(scope="session")
def microphones(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("microphones")
    return {
        # One turn, then a long silence: the reply plays out undisturbed.
        "turn": write_microphone(folder / "turn.wav", ONE_TURN),
        # Speech again while the reply still plays: a barge-in.
        "barge_in": write_microphone(
            folder / "barge-in.wav",
            [
                ("", 700),
                ("tell me a long story please", 0),
                ("", 900),
                ("wait stop", 0),
                ("", 6000),
            ],
        ),
    }


@pytest.fixture(autouse=True)
def close_upstream_client() -> None:
    """Replaces the suite's async fixture of that name: Playwright's sync API owns the
    event loop here, and these tests make no upstream calls in this process."""


@pytest.fixture(scope="module")
def playwright_driver():
    # Module-scoped: while the sync API runs, it owns this thread's event loop, which the
    # rest of the suite's async tests need back.
    with sync_playwright() as driver:
        yield driver


def start_chromium(playwright_driver, profile: Path, recording: Path) -> BrowserContext:
    """Chromium with the ``profile`` folder, whose fake microphone plays ``recording``.

    A browser that cannot start fails the test that asked for it, with the reason; it never
    skips it.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make deps` installs it (Debian's chromium)")
    try:
        context = playwright_driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_FLAGS, microphone_flag(recording)],
            permissions=["microphone"],
        )
    except PlaywrightError as error:
        pytest.fail(f"Chromium ({CHROMIUM}) did not start: {error.message}")
    context.add_init_script(RECORD_STREAMS)
    context.add_init_script(LOOPBACK_PEERS)
    return context


@pytest.fixture
def launch(playwright_driver, microphones, tmp_path) -> Iterator[Callable[[str], BrowserContext]]:
    """A fresh Chromium (fresh profile) whose fake microphone plays the named recording."""
    browsers: list[BrowserContext] = []

    def start(microphone: str = "turn") -> BrowserContext:
        profile = tmp_path / f"profile-{len(browsers)}"
        context = start_chromium(playwright_driver, profile, microphones[microphone])
        browsers.append(context)
        return context

    yield start
    for context in browsers:
        context.close()


# A server tool the page's sessions have: a message that names it makes the emulated model
# call it, and the server runs it (the page only shows the call).
SERVER_TOOLS = "tests.support.tools.lookup_order"


@pytest.fixture(scope="module")
def page_server(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator[Server]:
    env = project_env(tmp_path_factory.mktemp("page") / "db.sqlite3", emulator.base_url)
    server = run_daphne(
        env,
        unused_tcp_port_factory(),
        REALTIME_RATE_LIMIT="0",
        REALTIME_SERVER_TOOLS=SERVER_TOOLS,
    )
    yield server
    server.kill()


@pytest.fixture(scope="module")
def ephemeral_page_server(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator[Server]:
    env = project_env(tmp_path_factory.mktemp("ephemeral") / "db.sqlite3", emulator.base_url)
    server = run_daphne(
        env,
        unused_tcp_port_factory(),
        REALTIME_RATE_LIMIT="0",
        REALTIME_WEBRTC_FLOW="ephemeral",
        REALTIME_SERVER_TOOLS=SERVER_TOOLS,
    )
    yield server
    server.kill()


def open_page(context, server: Server, transport: str) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(server.url + "/")
    page.get_by_label("WebSocket" if transport == "websocket" else "WebRTC").check()
    return page


def rows(server: Server, query: str, *params) -> list[dict]:
    return server.rows(query, *params)


def save_screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
