"""Serve the emulator with uvicorn: on its own (``python -m realtime.emulator``) or inside the
process that uses it instead of OpenAI.

In process (``REALTIME_EMULATOR``), the emulator listens on a loopback port of its own that
the operating system picks, so the app reaches it the same way however it was started
(``runserver``, daphne, uvicorn, any port or address, a Unix socket, behind a proxy) and by
the same code that reaches OpenAI: only the base URL differs. It starts on the first call
that needs it, on the event loop that makes the call, and stops with :func:`stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from realtime.emulator.app import EmulatorApp
from realtime.emulator.state import Emulator

logger = logging.getLogger(__name__)

# input_audio_buffer.append carries up to 15 MiB of base64 audio in one frame.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def uvicorn_config(
    app: EmulatorApp, *, log_level: str = "warning", **options: object
) -> uvicorn.Config:
    """uvicorn's settings for the emulator, standalone or in process."""
    return uvicorn.Config(
        app,
        # asyncio's own loop and h11, whatever else is installed (uvicorn's auto would take
        # uvloop and httptools, the production extra): the emulator's answers and timing
        # were built and checked on these, and aiortc runs on asyncio's loop.
        loop="asyncio",
        http="h11",
        ws="websockets-sansio",
        ws_max_size=MAX_MESSAGE_BYTES,
        ws_ping_interval=20,  # the service pings about every 20 s
        ws_ping_timeout=20,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=2,
        **options,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; connections queue from here on, so its URL is usable at once."""
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer written in two parts waits out the client's delayed ACK (40 ms).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    return listener


def base_url_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"


class _GuestServer(uvicorn.Server):
    """uvicorn inside another server's process: the host server owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _InProcess:
    loop: asyncio.AbstractEventLoop
    listener: socket.socket
    server: _GuestServer
    task: asyncio.Task[None]
    base_url: str


_running: _InProcess | None = None
_starting: dict[asyncio.AbstractEventLoop, asyncio.Task[_InProcess]] = {}


async def base_url(api_key: str) -> str:
    """The base URL of this process's emulator, which accepts only ``api_key``; started on
    first use. Each event loop gets its own (a server has one for its whole life)."""
    loop = asyncio.get_running_loop()
    if _running is not None and _running.loop is loop and not _running.task.done():
        return _running.base_url
    starting = _starting.get(loop)
    if starting is None:
        # Concurrent first requests share one start.
        starting = _starting[loop] = loop.create_task(_start(api_key))
        starting.add_done_callback(lambda _: _starting.pop(loop, None))
    return (await asyncio.shield(starting)).base_url


async def _start(api_key: str) -> _InProcess:
    global _running
    if _running is not None:
        _forget(_running)  # its loop is gone: a new loop (a test, a command) needs its own
    listener = listen("127.0.0.1", 0)
    server = _GuestServer(
        # Django (or the host server) owns logging; uvicorn must not reconfigure it.
        uvicorn_config(EmulatorApp(Emulator(api_key=api_key)), log_config=None, access_log=False)
    )
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("the in-process emulator stopped while starting")
        await asyncio.sleep(0.005)
    _running = _InProcess(asyncio.get_running_loop(), listener, server, task, base_url_of(listener))
    logger.info("the offline realtime emulator listens in this process at %s", _running.base_url)
    return _running


def _forget(stale: _InProcess) -> None:
    global _running
    stale.listener.close()
    if _running is stale:
        _running = None


async def stop() -> None:
    """End this loop's emulator, its calls and sessions (at shutdown); a no-op if none."""
    running = _running
    if running is None or running.loop is not asyncio.get_running_loop():
        return
    running.server.should_exit = True
    await running.task
    _forget(running)
    logger.info("stopped the in-process realtime emulator")
