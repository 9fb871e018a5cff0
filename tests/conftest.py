from collections.abc import AsyncIterator, Iterator

import pytest
from django.core.cache import cache

from realtime import upstream
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
