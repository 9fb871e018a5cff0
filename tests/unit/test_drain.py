"""realtime.drain: the live sessions of a process, drained together when it stops."""

import asyncio
import logging

import pytest

from realtime import drain


class Session:
    """A stand-in for a live session: drained as the test says, it lets go when it ends."""

    def __init__(self, registry: drain.Registry, behaviour: str = "ends") -> None:
        self.registry = registry
        self.behaviour = behaviour
        self.drained_with: float | None = None
        self.may_end = asyncio.Event()
        self.released = asyncio.Event()

    async def drain(self, grace: float) -> None:
        self.drained_with = grace
        if self.behaviour == "fails":
            raise RuntimeError("could not close")
        if self.behaviour == "hangs":
            await asyncio.Event().wait()
        if self.behaviour == "ends when told":
            await self.may_end.wait()
        self.end()

    def end(self) -> None:
        self.registry.release(self)
        self.released.set()


@pytest.fixture
def registry() -> drain.Registry:
    return drain.Registry()


async def test_a_drain_drains_every_live_session_together_with_the_grace(registry):
    sessions = [Session(registry), Session(registry)]
    for session in sessions:
        assert registry.hold(session)

    await registry.drain(4.0)

    assert [session.drained_with for session in sessions] == [4.0, 4.0]
    assert len(registry) == 0


async def test_a_released_session_is_not_drained(registry):
    session = Session(registry)
    registry.hold(session)
    registry.release(session)

    await registry.drain(1.0)

    assert session.drained_with is None


async def test_a_session_refused_while_draining_is_waited_for_until_it_ends(registry):
    first = Session(registry, "ends when told")
    registry.hold(first)
    drained = registry.drain(5.0)
    late = Session(registry, "ends when told")  # refused: ends on its own, not when drained

    refused = not registry.hold(late)
    first.may_end.set()
    await first.released.wait()
    waited_for_late = not drained.done()
    late.end()
    await asyncio.wait_for(drained, timeout=2)

    assert (refused, waited_for_late) == (True, True)


async def test_a_session_that_fails_to_drain_is_logged_and_the_rest_drain(
    registry, monkeypatch, caplog
):
    monkeypatch.setattr(drain, "FINISH_ALLOWANCE", 0.0)
    failing, ending = Session(registry, "fails"), Session(registry)
    registry.hold(failing)
    registry.hold(ending)

    with caplog.at_level(logging.ERROR, logger="realtime.drain"):
        await registry.drain(0.1)

    assert ending.drained_with == 0.1
    assert "could not drain" in caplog.text


async def test_a_drain_ends_within_the_grace_even_if_a_session_hangs(registry, monkeypatch, caplog):
    monkeypatch.setattr(drain, "FINISH_ALLOWANCE", 0.0)
    registry.hold(Session(registry, "hangs"))

    with caplog.at_level(logging.ERROR, logger="realtime.drain"):
        await asyncio.wait_for(registry.drain(0.05), timeout=2)

    assert "1 realtime sessions did not end within the grace" in caplog.text
