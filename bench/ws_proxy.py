"""How many real-time audio sessions the WebSocket proxy carries, and what it adds.

For each N it starts a fresh emulator and, one after another, three ways to reach it, each
in its own process: the proxy under daphne (as `make run` serves it), the proxy under
uvicorn, and a minimal relay written with `websockets` alone (the ceiling for Python
relaying frames on this machine). It also measures N sessions straight to the emulator.

This process is the load: N WebSocket sessions, each streaming 24 kHz PCM16 as 20 ms
``input_audio_buffer.append`` events (about 1.35 KB, 50 a second) in a cycle of speech and
silence, so every session takes a turn every 4 s and receives spoken replies as 20 ms audio
deltas. Once a second each session also sends a probe (``conversation.item.retrieve`` of an
item that does not exist), answered at once with an ``error`` naming the probe: its round
trip, through a relay minus straight to the emulator at the same percentile, is the latency
the relay adds. Sessions start spread over one cycle, as independent users would.

Reported per target: probe round trip p50/p99, messages per second each way, the relay
process's CPU (in all, and per message relayed either way) and its resident memory per
session, errors and dropped sessions. ``--targets daphne-unrecorded daphne`` compares the
proxy with conversation recording off and on (``REALTIME_RECORD_CONVERSATIONS``) in one run;
the probes' ``error`` answers are recorded too (one entry per session per second).

The raw relay runs on uvloop when it is installed, as uvicorn then runs the proxy (its
``--loop auto``); ``--targets uvicorn-asyncio relay-asyncio`` runs both on asyncio's own
loop (and uvicorn on h11) in the same run. Each proxy is compared with the raw relay on its
own loop.

    .venv/bin/python bench/ws_proxy.py --sessions 10 50 100 200 400 --seconds 20

Loopback only; every session stops after --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.checkouts import commit  # noqa: E402
from bench.emulator_load import cpu_seconds, percentile, resident_mib  # noqa: E402
from bench.relay_overhead import free_port  # noqa: E402
from realtime.emulator import audio  # noqa: E402
from realtime.emulator.testing import EmulatorProcess  # noqa: E402
from tests.support.servers import project_env  # noqa: E402

KEY = "sk-bench-ws-proxy"
RAW_RELAY = "raw websockets relay"
ASYNCIO_SUFFIX = ", asyncio loop"
FRAME_MS = 20
CYCLE_MS = 4000
BIN = Path(sys.executable).parent


def cycle_frames() -> list[str]:
    speech = audio.synthesize_speech("one two three four")
    pcm = speech + b"\0" * (CYCLE_MS * audio.BYTES_PER_MS - len(speech))
    step = FRAME_MS * audio.BYTES_PER_MS
    return [
        json.dumps(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm[start : start + step]).decode(),
            }
        )
        for start in range(0, len(pcm), step)
    ]


@dataclass
class Results:
    probe_ms: list[float] = field(default_factory=list)
    sent: int = 0
    received: int = 0
    errors: int = 0
    dropped: int = 0


async def session(
    url: str,
    headers: dict[str, str],
    seconds: float,
    frames: list[str],
    results: Results,
    start_at: float,
) -> None:
    loop = asyncio.get_running_loop()
    probes: dict[str, float] = {}
    try:
        async with websockets.connect(
            url, additional_headers=headers, compression=None, max_size=None, open_timeout=60
        ) as connection:

            async def receive() -> None:
                async for message in connection:
                    results.received += 1
                    if '"error"' not in message[:60]:  # cheap: most messages are audio
                        continue
                    event = json.loads(message)
                    if event.get("type") != "error":
                        continue
                    probe = event["error"].get("event_id") or ""
                    if probe in probes:
                        results.probe_ms.append((loop.time() - probes.pop(probe)) * 1000)
                    else:
                        results.errors += 1

            receiver = asyncio.ensure_future(receive())
            await asyncio.sleep(max(0.0, start_at - loop.time()))
            began = loop.time()
            for index in range(int(seconds * 1000 / FRAME_MS)):
                delay = began + index * FRAME_MS / 1000 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await connection.send(frames[index % len(frames)])
                results.sent += 1
                if index % 50 == 25:
                    probe = f"probe_{id(connection)}_{index}"
                    probes[probe] = loop.time()
                    await connection.send(
                        json.dumps(
                            {
                                "type": "conversation.item.retrieve",
                                "event_id": probe,
                                "item_id": "item_does_not_exist",
                            }
                        )
                    )
                    results.sent += 1
            await asyncio.sleep(1)  # the last replies
            receiver.cancel()
    except (OSError, websockets.ConnectionClosed, TimeoutError):
        results.dropped += 1


async def load(url: str, headers: dict[str, str], sessions: int, seconds: float, pid: int | None):
    frames = cycle_frames()
    results = Results()
    idle_mib = resident_mib(pid) if pid else 0.0
    begin = asyncio.get_running_loop().time() + 1 + sessions / 100  # connect, then stream
    spread = CYCLE_MS / 1000 / sessions
    cpu_before = cpu_seconds(pid) if pid else 0.0
    peak_mib = idle_mib
    started = time.monotonic()

    async def watch_memory() -> None:
        nonlocal peak_mib
        while True:
            await asyncio.sleep(1)
            if pid:
                peak_mib = max(peak_mib, resident_mib(pid))

    watcher = asyncio.ensure_future(watch_memory())
    await asyncio.gather(
        *(
            session(url, headers, seconds, frames, results, begin + index * spread)
            for index in range(sessions)
        )
    )
    watcher.cancel()
    wall = time.monotonic() - started
    return {
        "p50": percentile(results.probe_ms, 0.5),
        "p99": percentile(results.probe_ms, 0.99),
        "probes": len(results.probe_ms),
        "sent_per_s": results.sent / seconds,
        "received_per_s": results.received / seconds,
        "errors": results.errors,
        "dropped": results.dropped,
        "cpu": (cpu_seconds(pid) - cpu_before) / wall * 100 if pid else float("nan"),
        "kib_per_session": (peak_mib - idle_mib) * 1024 / sessions if pid else float("nan"),
    }


class Relay:
    """A relay process in front of the emulator: started, waited for, stopped."""

    def __init__(
        self, command: list[str], env: dict[str, str], port: int, cwd: Path = PROJECT
    ) -> None:
        self.port = port
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{command[0]} did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def relay_env(database: Path, base_url: str) -> dict[str, str]:
    """The project's environment (as the integration tests make it), tuned for load: DEBUG
    off, no per-client limits, the emulator's one accepted key."""
    return {
        **project_env(database, base_url),
        "DEBUG": "false",
        # Plain http on loopback: no https redirect, cookies (CSRF) over http.
        "SECURE_SSL_REDIRECT": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SESSION_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "OPENAI_API_KEY": KEY,
        "REALTIME_RATE_LIMIT": "0",
        "REALTIME_PROXY_MAX_SESSIONS_PER_USER": "100000",
    }


def proxy_token(env: dict[str, str]) -> str:
    output = subprocess.run(
        [sys.executable, "manage.py", "mint_secret", "--proxy", "--ttl", "7200", "--json"],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)["value"]


def serve_raw_relay(port: int, upstream: str, loop: str = "auto") -> None:
    """The ceiling: relay frames both ways with `websockets` alone, no auth, no parsing."""

    async def handler(client) -> None:
        async with websockets.connect(
            upstream,
            additional_headers={"Authorization": f"Bearer {KEY}"},
            compression=None,
            max_size=None,
        ) as openai:

            async def pump(source, target) -> None:
                async for message in source:
                    await target.send(message)

            tasks = [
                asyncio.ensure_future(pump(client, openai)),
                asyncio.ensure_future(pump(openai, client)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_size=None):
            await asyncio.Future()

    # On the event loop uvicorn runs the proxy on (its --loop auto: uvloop when installed;
    # "asyncio": asyncio's own), so that the two differ only in what relays the frames.
    try:
        import uvloop
    except ImportError:
        uvloop = None
    if uvloop is None or loop == "asyncio":
        asyncio.run(main())
    else:
        uvloop.run(main())


def measure(
    sessions: int, seconds: float, targets: list[str], baseline: Path | None = None
) -> list[tuple[str, dict]]:
    rows = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        EmulatorProcess("--api-key", KEY, "--audio-chunk-ms", "20") as emulator,
    ):
        env = relay_env(Path(scratch) / "bench.sqlite3", emulator.base_url)
        token = proxy_token(env)
        path = "/realtime?model=gpt-realtime-2.1"
        if "direct" in targets:
            direct = asyncio.run(
                load(
                    f"{emulator.websocket_url}{path}",
                    {"Authorization": f"Bearer {KEY}"},
                    sessions,
                    seconds,
                    None,
                )
            )
            rows.append(("direct to the emulator", direct))
        daphne = [
            str(BIN / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            "{port}",
            "voiceproject.asgi:application",
        ]
        # target: (row name, command, environment overrides)
        servers = {
            "daphne": ("proxy under daphne", daphne, {}),
            "daphne-unrecorded": (
                "proxy under daphne, conversations not recorded",
                daphne,
                {"REALTIME_RECORD_CONVERSATIONS": "false"},
            ),
            "uvicorn": (
                "proxy under uvicorn",
                [
                    str(BIN / "uvicorn"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "{port}",
                    "--ws",
                    "websockets-sansio",
                    "--log-level",
                    "warning",
                    "voiceproject.asgi:application",
                ],
                {},
            ),
            "relay": (
                RAW_RELAY,
                [
                    sys.executable,
                    __file__,
                    "--serve-raw-relay",
                    "{port}",
                    f"{emulator.websocket_url}{path}",
                ],
                {},
            ),
        }
        # Both on asyncio's own event loop (and uvicorn on h11), as they run without the
        # production extra's uvloop and httptools.
        *flags, app = servers["uvicorn"][1]
        servers["uvicorn-asyncio"] = (
            "proxy under uvicorn" + ASYNCIO_SUFFIX,
            [*flags, "--loop", "asyncio", "--http", "h11", app],
            {},
        )
        servers["relay-asyncio"] = (
            RAW_RELAY + ASYNCIO_SUFFIX,
            [*servers["relay"][1], "asyncio"],
            {},
        )
        if baseline is not None:  # the proxy under uvicorn, from another checkout
            servers["uvicorn-baseline"] = (
                f"proxy under uvicorn ({commit(baseline)})",
                servers["uvicorn"][1],
                {},
            )
        for target in targets:
            if target not in servers:
                continue
            name, command, overrides = servers[target]
            port = free_port()
            relay = Relay(
                [part.replace("{port}", str(port)) for part in command],
                {**env, **overrides},
                port,
                cwd=baseline if target == "uvicorn-baseline" else PROJECT,
            )
            try:
                relay_path = "/" if target.startswith("relay") else f"/v1{path}"
                row = asyncio.run(
                    load(
                        f"ws://127.0.0.1:{port}{relay_path}",
                        {"Authorization": f"Bearer {token}"},
                        sessions,
                        seconds,
                        relay.process.pid,
                    )
                )
            finally:
                relay.stop()
            rows.append((name, row))
    return rows


def main() -> None:
    if len(sys.argv) in (4, 5) and sys.argv[1] == "--serve-raw-relay":
        serve_raw_relay(int(sys.argv[2]), *sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--targets",
        nargs="+",
        default=["direct", "daphne", "uvicorn", "relay"],
        choices=[
            "direct",
            "daphne",
            "daphne-unrecorded",
            "uvicorn",
            "uvicorn-asyncio",
            "uvicorn-baseline",
            "relay",
            "relay-asyncio",
        ],
        help="daphne-unrecorded: daphne with REALTIME_RECORD_CONVERSATIONS=false, the "
        "recorder's cost beside daphne's; uvicorn-baseline: uvicorn from --baseline; "
        "uvicorn-asyncio, relay-asyncio: on asyncio's own loop",
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (git worktree) for uvicorn-baseline"
    )
    options = parser.parse_args()
    if "uvicorn-baseline" in options.targets and options.baseline is None:
        raise SystemExit("uvicorn-baseline needs --baseline DIR")
    if options.seconds < 5 or min(options.sessions) < 1:
        raise SystemExit("--seconds must be at least 5 and --sessions positive")
    print(f"{os.cpu_count()} CPUs; {options.seconds:.0f} s of streaming per row\n")
    print(
        "| sessions | target | probe RTT p50 / p99 ms | added p50 / p99 ms | msgs/s sent "
        "| msgs/s received | relay CPU | CPU µs/msg | relay memory/session | errors | dropped |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summaries: list[str] = []
    against_relay: list[str] = []
    for count in options.sessions:
        rows = measure(count, options.seconds, options.targets, options.baseline)
        base = dict(rows).get("direct to the emulator")
        for name, row in rows:
            added = (
                f"{row['p50'] - base['p50']:.1f} / {row['p99'] - base['p99']:.1f}"
                if base is not None and name != "direct to the emulator"
                else "-"
            )
            if base is not None:
                row["added_p99"] = row["p99"] - base["p99"]
            cpu = "-" if row["cpu"] != row["cpu"] else f"{row['cpu']:.0f}%"
            # CPU time per message relayed (either way): what recording adds shows here.
            messages = row["sent_per_s"] + row["received_per_s"]
            row["cpu_per_message"] = row["cpu"] / 100 * 1e6 / messages
            per_message = "-" if row["cpu"] != row["cpu"] else f"{row['cpu_per_message']:.1f}"
            memory = (
                "-"
                if row["kib_per_session"] != row["kib_per_session"]
                else f"{row['kib_per_session']:.0f} KiB"
            )
            print(
                f"| {count} | {name} | {row['p50']:.1f} / {row['p99']:.1f} | {added} "
                f"| {row['sent_per_s']:.0f} | {row['received_per_s']:.0f} | {cpu} | {per_message} "
                f"| {memory} "
                f"| {row['errors']} | {row['dropped']} |",
                flush=True,
            )
        summaries.extend(recording_cost(count, rows))
        against_relay.extend(cost_against_relay(count, rows))
    if against_relay:
        print("\nAgainst the raw relay, medians of the rounds (proxy / raw relay):\n")
        print("| sessions | proxy | rounds | added p99 ms | CPU µs/msg | ratio |")
        print("|---:|---|---:|---:|---:|---:|")
        for line in against_relay:
            print(line)
    if summaries:
        print("\nRecording's cost, medians of the alternating rounds (recorded / not recorded):\n")
        print("| sessions | rounds | added p99 ms | ratio | CPU µs/msg | ratio |")
        print("|---:|---:|---:|---:|---:|---:|")
        for line in summaries:
            print(line)


def recording_cost(count: int, rows: list[tuple[str, dict]]) -> list[str]:
    """One summary line when the proxy ran recorded and unrecorded: the medians of each
    (rounds alternate, so the machine's drift falls on both) and their ratio."""
    recorded = [row for name, row in rows if name == "proxy under daphne"]
    unrecorded = [row for name, row in rows if name.endswith("conversations not recorded")]
    if not recorded or not unrecorded or "added_p99" not in recorded[0]:
        return []
    cells = []
    for key in ("added_p99", "cpu_per_message"):
        on = statistics.median(row[key] for row in recorded)
        off = statistics.median(row[key] for row in unrecorded)
        cells.append(f"{on:.1f} / {off:.1f} | {on / off:.2f}")
    rounds = min(len(recorded), len(unrecorded))
    return [f"| {count} | {rounds} | {cells[0]} | {cells[1]} |"]


def cost_against_relay(count: int, rows: list[tuple[str, dict]]) -> list[str]:
    """For each proxy that ran beside the raw relay, a line with the medians of both sides'
    rounds (run them alternately: the machine's drift then falls on both) and the ratio of
    their CPU per message, the issue's measure of what the proxy itself costs. Each proxy is
    set beside the raw relay on its own event loop (daphne's is asyncio's), when that ran."""
    relays = {
        loop: [row for name, row in rows if name == RAW_RELAY + suffix]
        for loop, suffix in (("auto", ""), ("asyncio", ASYNCIO_SUFFIX))
    }
    lines = []
    proxies = dict.fromkeys(name for name, _ in rows if name.startswith("proxy under"))
    for proxy in proxies:
        proxied = [row for name, row in rows if name == proxy]
        on_asyncio = proxy.endswith(ASYNCIO_SUFFIX) or "daphne" in proxy
        relayed = relays["asyncio" if on_asyncio else "auto"] or relays["auto"]
        if not relayed or not proxied or "added_p99" not in proxied[0]:
            continue
        p99 = [statistics.median(row["added_p99"] for row in side) for side in (proxied, relayed)]
        cpu = [
            statistics.median(row["cpu_per_message"] for row in side) for side in (proxied, relayed)
        ]
        rounds = min(len(proxied), len(relayed))
        lines.append(
            f"| {count} | {proxy.removeprefix('proxy ')} | {rounds} | {p99[0]:.1f} / {p99[1]:.1f} "
            f"| {cpu[0]:.1f} / {cpu[1]:.1f} | {cpu[0] / cpu[1]:.2f} |"
        )
    return lines


if __name__ == "__main__":
    main()
