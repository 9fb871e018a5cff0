from collections.abc import AsyncIterator, Iterator

import pytest
from django.core.cache import cache

from realtime import upstream
from realtime.emulator.testing import EmulatorProcess
from tests.support.fake_openai import FakeOpenAI

SERVER_KEY = "sk-test-server-key"


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def realtime_settings(settings, fake_openai: FakeOpenAI):
    """Every test talks to the fake OpenAI with a test key and a fresh rate-limit cache."""
    fake_openai.reset()
    cache.clear()
    settings.OPENAI_API_KEY = SERVER_KEY
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.REALTIME_CONNECT_TIMEOUT = 2.0
    settings.REALTIME_READ_TIMEOUT = 2.0
    return settings


@pytest.fixture(autouse=True)
async def close_upstream_client() -> AsyncIterator[None]:
    """Each test has its own event loop; close the pooled client made on it."""
    yield
    await upstream.aclose()


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """The offline emulator, judged by the official SDK (every event it sends is validated).

    Replies stream at four times real time to keep the suite quick.
    """
    process = EmulatorProcess("--check-events", "--pace", "4").start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def emulator_judge(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the emulator start it clean and fail on any event the SDK rejects."""
    if "emulator" not in request.fixturenames:
        yield
        return
    emulator = request.getfixturevalue("emulator")
    emulator.reset()
    yield
    invalid = emulator.invalid_events()
    assert invalid == [], f"the emulator sent events the openai SDK rejects: {invalid}"
