"""A problem this server reports, as every path that reports it words it (``realtime.errors``
holds the table)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem, as every path that reports it words it.

    ``status`` is the HTTP status the views answer with (None: only the proxy reports it).
    ``close_code`` is the proxy's close (None: the proxy answers with the ``error`` event
    alone and the session goes on, or never reports it). Like OpenAI's realtime socket, the
    proxy closes a refused credential with 3000; other closes are 4000 plus the matching HTTP
    status, because servers such as daphne may only send 1000 and 3000-4999. The close reason
    is ``<error_type>.<code>``. ``socket_hint`` replaces the hint where a socket client must
    act otherwise (connect again rather than repeat a request).
    """

    code: str
    message: str
    hint: str
    status: int | None = None
    close_code: int | None = None
    error_type: str = "invalid_request_error"
    socket_hint: str = ""

    @property
    def reason(self) -> str:
        return f"{self.error_type}.{self.code}"
