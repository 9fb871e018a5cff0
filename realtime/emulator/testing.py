"""Run an emulator in a child process and drive its control API: for tests and benchmarks.

with EmulatorProcess("--check-events") as emulator:
    emulator.fault("calls", status=500)
    ... OPENAI_BASE_URL = emulator.base_url ...
    emulator.received()  # what arrived, secrets masked
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import httpx

READY = "OPENAI_BASE_URL="


class EmulatorProcess:
    def __init__(
        self,
        *arguments: str,
        host: str = "127.0.0.1",
        port: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "realtime.emulator",
            "--host",
            host,
            "--port",
            str(port),
            *arguments,
        ]
        self.env = env
        self.process: subprocess.Popen | None = None
        self.base_url = ""
        self.output: list[str] = []
        self._control: httpx.Client | None = None

    def start(self, timeout: float = 30) -> EmulatorProcess:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, our own arguments
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        ready = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                if READY in line and not ready.is_set():
                    self.base_url = line.split(READY, 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or not self.base_url:
            self.stop()
            raise RuntimeError("the emulator did not start:\n" + "\n".join(self.output))
        self._control = httpx.Client(base_url=self.base_url.removesuffix("/v1"), timeout=10)
        return self

    @property
    def websocket_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the control API -----------------------------------------------------------------

    def _call(self, method: str, path: str, **options: Any) -> httpx.Response:
        response = self._control.request(method, f"/_emulator/{path}", **options)
        response.raise_for_status()
        return response

    def reset(self) -> None:
        """End live calls and sessions; forget faults, received records, invalid events."""
        self._call("POST", "reset")

    def fault(self, endpoint: str, **details: Any) -> None:
        """Misbehave on ``endpoint``; see ``realtime.emulator.state.Fault``."""
        self._call("POST", "faults", json={"endpoint": endpoint, **details})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def received(self, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "received", params={"since": since}).json()["records"]

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """The HTTP requests that arrived, optionally only those to ``path``."""
        return [
            record
            for record in self.received()
            if record["kind"] == "http" and (path is None or record["path"] == path)
        ]

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state").json()

    def invalid_events(self) -> list[dict[str, Any]]:
        return self._call("GET", "invalid-events").json()["events"]

    def expire_secret(self, value: str) -> None:
        self._call("POST", f"secrets/{value}/expire")

    def hear(self, text: str, session_id: str | None = None) -> None:
        """Have the next utterance of a Live session (``session_id``, else any) heard as
        ``text``; see ``realtime.emulator.live.model``."""
        self._call("POST", "live/hear", json={"text": text, "session_id": session_id})
