"""``python -m realtime.emulator``: serve the emulator on its own, with uvicorn.

Prints the base URL to use as ``OPENAI_BASE_URL`` once it listens.
"""

from __future__ import annotations

import argparse
import logging
import os

from realtime.emulator import INSTALL, missing_packages

if missing := missing_packages():
    # One line, before the imports that would fail with a traceback.
    raise SystemExit(f"realtime emulator: {', '.join(missing)} missing; {INSTALL}")

import uvicorn

from realtime.emulator.app import EmulatorApp
from realtime.emulator.conversation import Settings
from realtime.emulator.fidelity import event_checker
from realtime.emulator.live.fidelity import live_event_checker
from realtime.emulator.server import base_url_of, listen, uvicorn_config
from realtime.emulator.state import Emulator


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m realtime.emulator",
        description="An offline stand-in for OpenAI's GA realtime and GPT-Live endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("EMULATOR_API_KEY"),
        help="the one server key to accept (default: any sk-…; also EMULATOR_API_KEY)",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="reply audio speed: 1.0 real time, 4.0 four times faster",
    )
    parser.add_argument(
        "--audio-chunk-ms", type=int, default=100, help="audio per response.output_audio.delta"
    )
    parser.add_argument(
        "--session-seconds",
        type=int,
        default=3600,
        help="sessions end with session_expired after this",
    )
    parser.add_argument(
        "--live-usage-seconds",
        type=float,
        default=15.0,
        help="how often a GPT-Live session sends session.usage.updated",
    )
    parser.add_argument(
        "--check-events",
        action="store_true",
        help="validate every server event with the openai SDK's types",
    )
    parser.add_argument("--log-level", default="warning")
    options = parser.parse_args()
    if (
        options.pace <= 0
        or options.audio_chunk_ms < 10
        or options.session_seconds < 1
        or options.live_usage_seconds <= 0
    ):
        parser.error(
            "--pace and --live-usage-seconds must be positive, --audio-chunk-ms at least 10, "
            "--session-seconds at least 1"
        )
    logging.basicConfig(
        level=options.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    emulator = Emulator(
        api_key=options.api_key,
        settings=Settings(
            pace=options.pace,
            audio_chunk_ms=options.audio_chunk_ms,
            session_seconds=options.session_seconds,
            live_usage_seconds=options.live_usage_seconds,
        ),
    )
    if options.check_events:
        emulator.settings.check_event = event_checker(emulator.invalid_events)
        emulator.settings.check_live_event = live_event_checker(emulator.invalid_events)

    listener = listen(options.host, options.port)
    print(f"realtime emulator listening: OPENAI_BASE_URL={base_url_of(listener)}", flush=True)
    config = uvicorn_config(EmulatorApp(emulator), log_level=options.log_level)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
