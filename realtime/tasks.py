"""Tasks that outlive the request that starts them (a call's sideband, the record writer,
the listeners of this process).

A task copies the context it was made in. Made during a request, that context holds the
request's thread-sensitive executor (asgiref's), which ends with the request when a sync
middleware ran it, and the task's next database call then fails ("CurrentThreadExecutor
already quit or is broken"). A detached task starts from an empty context instead: its
database calls get an executor of their own.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def detached(coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``coroutine`` as a task of the process, in a context of its own."""
    return asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
