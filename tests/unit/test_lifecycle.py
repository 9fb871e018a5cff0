"""realtime.lifecycle: what the app does as an ASGI server starts and stops.

Daphne's path (Twisted triggers) is proved against real daphne processes in
tests/resilience/test_shutdown.py; this is the ASGI lifespan path that uvicorn and
hypercorn use.
"""

import pytest

from realtime import drain, upstream
from realtime.lifecycle import ServerLifecycle
from realtime.models import RealtimeSession, Source
from tests.unit.test_sweep import gone_process


class Recorder:
    """An inner ASGI app that notes the scopes it is given."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)


class LiveSession:
    """A stand-in for a proxied session: notes the grace it is drained with, and ends."""

    def __init__(self, registry: drain.Registry) -> None:
        self.registry = registry
        self.drained_with: float | None = None

    async def drain(self, grace: float) -> None:
        self.drained_with = grace
        self.registry.release(self)


def lifespan_messages(*types: str):
    queue = iter({"type": kind} for kind in types)

    async def receive() -> dict:
        return next(queue)

    return receive


async def run_lifespan(app) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await app(
        {"type": "lifespan"}, lifespan_messages("lifespan.startup", "lifespan.shutdown"), send
    )
    return sent


@pytest.fixture
def registry(monkeypatch) -> drain.Registry:
    """A registry of its own, as the process's: a drain refuses sessions for good."""
    fresh = drain.Registry()
    monkeypatch.setattr(drain, "live", fresh)
    return fresh


@pytest.mark.django_db(transaction=True)
async def test_lifespan_startup_and_shutdown_are_answered_and_shutdown_closes_the_client(
    registry,
):
    client = upstream.get_client()

    sent = await run_lifespan(ServerLifecycle(Recorder()))

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert client.is_closed


@pytest.mark.django_db(transaction=True)
async def test_lifespan_startup_ends_the_sessions_a_stopped_process_left_open(registry):
    left_open = await RealtimeSession.objects.acreate(
        source=Source.WEBSOCKET_PROXY, server_process=gone_process()
    )

    await run_lifespan(ServerLifecycle(Recorder()))

    await left_open.arefresh_from_db()
    assert left_open.ended_at is not None
    assert left_open.error_code == "server_stopped"


@pytest.mark.django_db(transaction=True)
async def test_lifespan_shutdown_drains_the_live_sessions_within_the_grace(registry, settings):
    settings.REALTIME_SHUTDOWN_GRACE = 2.5
    session = LiveSession(registry)
    assert registry.hold(session)

    await run_lifespan(ServerLifecycle(Recorder()))

    assert session.drained_with == 2.5
    assert not registry.hold(LiveSession(registry))  # no new session once the server stops


async def test_other_scopes_go_to_the_wrapped_application():
    inner = Recorder()
    app = ServerLifecycle(inner)

    await app({"type": "http", "path": "/"}, lifespan_messages(), None)

    assert inner.scopes == [{"type": "http", "path": "/"}]
