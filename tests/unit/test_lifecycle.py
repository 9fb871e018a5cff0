"""realtime.lifecycle: the pooled client is closed when an ASGI server shuts down.

Daphne's path (a Twisted shutdown trigger) is proved against a real daphne in
tests/integration; this is the ASGI lifespan path that uvicorn and hypercorn use.
"""

from realtime import upstream
from realtime.lifecycle import CloseUpstreamOnShutdown


class Recorder:
    """An inner ASGI app that notes the scopes it is given."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)


def lifespan_messages(*types: str):
    queue = iter({"type": kind} for kind in types)

    async def receive() -> dict:
        return next(queue)

    return receive


async def test_lifespan_startup_and_shutdown_are_answered_and_shutdown_closes_the_client():
    client = upstream.get_client()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    app = CloseUpstreamOnShutdown(Recorder())
    await app(
        {"type": "lifespan"}, lifespan_messages("lifespan.startup", "lifespan.shutdown"), send
    )

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert client.is_closed


async def test_other_scopes_go_to_the_wrapped_application():
    inner = Recorder()
    app = CloseUpstreamOnShutdown(inner)

    await app({"type": "http", "path": "/"}, lifespan_messages(), None)

    assert inner.scopes == [{"type": "http", "path": "/"}]
