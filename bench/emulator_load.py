"""Can the emulator carry N concurrent realtime sessions streaming audio in real time?

Starts the emulator (standalone, uvicorn) in its own process. This process is the load: N
WebSocket sessions, each sending 24 kHz PCM16 as 20 ms ``input_audio_buffer.append`` events
at real-time pace (50 a second), in a cycle of about 0.9 s of speech and 3.1 s of silence, so
every session takes a turn every 4 s and gets a spoken reply (audio deltas) back. Sessions
start spread evenly over one cycle, as independent users would, not all in the same tick.

For each turn it measures how late ``input_audio_buffer.speech_stopped`` arrives after the
append that completed the silence the VAD waits for (the emulator's processing delay, plus
any lateness of this generator, reported apart), and counts errors and dropped sessions. The
emulator's CPU and resident memory come from /proc.

    .venv/bin/python bench/emulator_load.py --sessions 50 100 200 --seconds 20

Loopback only; every session stops after --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass, field

import websockets

from realtime.emulator import audio
from realtime.emulator.testing import EmulatorProcess

KEY = "sk-bench-emulator-load"
FRAME_MS = 20
SILENCE_TO_STOP_MS = 200  # the default server VAD's silence_duration_ms
CYCLE_MS = 4000


def cycle_frames() -> tuple[list[str], int]:
    """One cycle of append events (speech, then silence), and the index of the frame whose
    sending completes the silence after the speech, i.e. should make the VAD stop."""
    speech = audio.synthesize_speech("one two three four")
    pcm = speech + b"\0" * (CYCLE_MS * audio.BYTES_PER_MS - len(speech))
    step = FRAME_MS * audio.BYTES_PER_MS
    frames = [
        json.dumps(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm[start : start + step]).decode(),
            }
        )
        for start in range(0, len(pcm), step)
    ]
    stop_frame = (len(speech) // audio.BYTES_PER_MS + SILENCE_TO_STOP_MS) // FRAME_MS
    return frames, stop_frame


@dataclass
class Results:
    stop_delays_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    turns: int = 0
    responses: int = 0
    audio_deltas: int = 0
    errors: int = 0
    dropped: int = 0
    sent: int = 0


async def session(
    url: str, seconds: float, frames: list[str], stop_frame: int, results: Results, start_at: float
) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {KEY}"},
            compression=None,
            max_size=None,
        ) as socket:
            await socket.recv()  # session.created
            began = max(loop.time(), start_at)
            expected_stops: list[float] = []

            async def receive() -> None:
                async for message in socket:
                    kind = json.loads(message)["type"]
                    if kind == "input_audio_buffer.speech_stopped" and expected_stops:
                        results.stop_delays_ms.append((loop.time() - expected_stops.pop(0)) * 1000)
                        results.turns += 1
                    elif kind == "response.output_audio.delta":
                        results.audio_deltas += 1
                    elif kind == "response.done":
                        results.responses += 1
                    elif kind == "error":
                        results.errors += 1

            receiver = asyncio.ensure_future(receive())
            count = int(seconds * 1000 / FRAME_MS)
            for index in range(count):
                due = began + index * FRAME_MS / 1000
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    results.send_lag_ms.append(-delay * 1000)
                await socket.send(frames[index % len(frames)])
                results.sent += 1
                if index % len(frames) == stop_frame:
                    expected_stops.append(loop.time())
            await asyncio.sleep(1)  # the last turn's events
            receiver.cancel()
    except (OSError, websockets.ConnectionClosed):
        results.dropped += 1


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def load(emulator: EmulatorProcess, sessions: int, seconds: float) -> dict[str, float]:
    frames, stop_frame = cycle_frames()
    url = f"{emulator.websocket_url}/realtime?model=gpt-realtime-2.1"
    results = Results()
    pid = emulator.process.pid
    idle_mib = resident_mib(pid)
    begin = asyncio.get_running_loop().time() + 2  # everyone connected, then all stream
    spread = CYCLE_MS / 1000 / sessions
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    own_before = cpu_seconds(os.getpid())
    await asyncio.gather(
        *(
            session(url, seconds, frames, stop_frame, results, begin + index * spread)
            for index in range(sessions)
        )
    )
    wall = time.monotonic() - wall_before
    cpu = (cpu_seconds(pid) - cpu_before) / wall
    generator_cpu = (cpu_seconds(os.getpid()) - own_before) / wall
    return {
        "sessions": sessions,
        "stop_p50": percentile(results.stop_delays_ms, 0.5),
        "stop_p99": percentile(results.stop_delays_ms, 0.99),
        "lag_p99": percentile(results.send_lag_ms, 0.99) if results.send_lag_ms else 0.0,
        "turns": results.turns,
        "responses": results.responses,
        "deltas": results.audio_deltas,
        "errors": results.errors,
        "dropped": results.dropped,
        "sent_per_s": results.sent / seconds,
        "cpu": cpu * 100,
        "generator_cpu": generator_cpu * 100,
        "kib_per_session": (resident_mib(pid) - idle_mib) * 1024 / sessions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=20)
    options = parser.parse_args()
    if options.seconds < 5 or min(options.sessions) < 1:
        raise SystemExit("--seconds must be at least 5 and --sessions positive")
    print(
        f"{os.cpu_count()} CPUs; {options.seconds:.0f} s of streaming per row; a turn every "
        f"{CYCLE_MS / 1000:.0f} s per session\n"
    )
    print(
        "| sessions | appends/s | speech_stopped delay p50 / p99 ms | generator lag p99 ms "
        "| turns | responses | audio deltas | errors | dropped | emulator CPU | memory/session "
        "| generator CPU |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in options.sessions:
        with EmulatorProcess("--api-key", KEY) as emulator:
            row = asyncio.run(load(emulator, count, options.seconds))
        print(
            f"| {row['sessions']} | {row['sent_per_s']:.0f} "
            f"| {row['stop_p50']:.1f} / {row['stop_p99']:.1f} | {row['lag_p99']:.1f} "
            f"| {row['turns']} | {row['responses']} | {row['deltas']} | {row['errors']} "
            f"| {row['dropped']} | {row['cpu']:.0f}% | {row['kib_per_session']:.0f} KiB "
            f"| {row['generator_cpu']:.0f}% |",
            flush=True,
        )


if __name__ == "__main__":
    main()
