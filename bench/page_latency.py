"""How long the page takes from Start to connected, and to the first assistant audio.

Starts the emulator (replies in real time) and daphne serving the app, then for each
transport runs the page in a fresh headless Chromium (Debian's, driven by Playwright) whose
fake microphone says one phrase: 0.7 s of silence, about 1.3 s of speech, then silence.
Times are taken in the page with performance.now(): the Start click, the status turning
"connected", and the assistant level meter first moving (audio actually playing). "First
audio" therefore includes the spoken turn itself (about 2 s of the microphone recording,
plus the VAD's 200 ms of silence). Over WebRTC the browser gathers its candidates before the
offer leaves (tests.support.browser.LOOPBACK_PEERS), so that the call pairs on 127.0.0.1;
"connected" includes that gathering, which the page alone would overlap with the handshake.

    .venv/bin/python bench/page_latency.py --runs 10

Loopback only; every run ends with Stop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.relay_overhead import free_port  # noqa: E402
from realtime.emulator.testing import EmulatorProcess  # noqa: E402
from tests.support.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    LOOPBACK_PEERS,
    ONE_TURN,
    microphone_flag,
    write_microphone,
)
from tests.support.servers import project_env, run_daphne  # noqa: E402

# Marks the moments in the page without touching its code: the click, the status text
# and the assistant meter's peak, watched with a MutationObserver.
TIMING = """
window.__timing = {};
document.addEventListener("click", (event) => {
  if (event.target.id === "start") window.__timing.start = performance.now();
}, true);
new MutationObserver(() => {
  const t = window.__timing;
  const status = document.getElementById("status");
  const meter = document.getElementById("output-level");
  if (!t.connected && status && status.textContent === "connected") t.connected = performance.now();
  if (!t.audio && meter && Number(meter.dataset.peak) > 0.01) t.audio = performance.now();
}).observe(document, { subtree: true, attributes: true, childList: true, characterData: true });
"""


def run_once(
    driver, url: str, transport: str, recording: Path, profile: Path
) -> tuple[float, float]:
    context = driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_FLAGS, microphone_flag(recording)],
        permissions=["microphone"],
    )
    try:
        context.add_init_script(TIMING)
        context.add_init_script(LOOPBACK_PEERS)
        page = context.new_page()
        page.goto(url)
        page.get_by_label("WebSocket" if transport == "websocket" else "WebRTC").check()
        page.get_by_role("button", name="Start").click()
        page.wait_for_function("window.__timing.audio", timeout=60_000)
        timing = page.evaluate("window.__timing")
        page.get_by_role("button", name="Stop").click()
        return timing["connected"] - timing["start"], timing["audio"] - timing["start"]
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    if options.runs < 1:
        raise SystemExit("--runs must be positive")
    with (
        tempfile.TemporaryDirectory() as scratch,
        EmulatorProcess() as emulator,
        sync_playwright() as driver,
    ):
        folder = Path(scratch)
        recording = write_microphone(folder / "turn.wav", ONE_TURN)
        env = project_env(folder / "bench.sqlite3", emulator.base_url)
        server = run_daphne(env, free_port(), REALTIME_RATE_LIMIT="0")
        try:
            print(f"{options.runs} runs per transport; medians (min-max), milliseconds\n")
            print("| transport | Start → connected | Start → first assistant audio |")
            print("|---|---:|---:|")
            for transport in ("webrtc", "websocket"):
                connected, audio = [], []
                for run in range(options.runs):
                    emulator.reset()
                    profile = folder / f"profile-{transport}-{run}"
                    took = run_once(driver, server.url + "/", transport, recording, profile)
                    connected.append(took[0])
                    audio.append(took[1])
                print(
                    f"| {transport} | {statistics.median(connected):.0f} "
                    f"({min(connected):.0f}-{max(connected):.0f}) "
                    f"| {statistics.median(audio):.0f} ({min(audio):.0f}-{max(audio):.0f}) |",
                    flush=True,
                )
        finally:
            server.kill()


if __name__ == "__main__":
    main()
