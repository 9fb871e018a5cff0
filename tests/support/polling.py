"""Waiting on another process's state (a server's database, the emulator's control API):
there is no event to await, so poll, with a deadline."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 20, what: str = "a condition", every: float = 0.05
) -> T:
    """The predicate's first truthy value; an assertion error naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


async def eventually(
    predicate: Callable[[], Awaitable[T] | T],
    seconds: float = 20,
    what: str = "a condition",
    every: float = 0.05,
) -> T:
    """``wait_for`` for async tests: the event loop runs (this process's tasks go on) while
    it waits. The predicate may be a coroutine function."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(every)
