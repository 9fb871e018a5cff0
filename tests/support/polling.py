"""Waiting on another process's state (a server's database, the emulator's control API):
there is no event to await, so poll, with a deadline."""

import time
from collections.abc import Callable
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
