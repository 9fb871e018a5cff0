"""REALTIME_EMULATOR: the app serves the offline emulator inside its own process, on a
loopback port of its own, and reaches it with the code that reaches OpenAI."""

import asyncio
import json
import socket
from urllib.parse import urlsplit

import pytest

from realtime import upstream
from realtime.conf import EMULATOR_API_KEY, get_settings


@pytest.fixture
def emulator_on(settings):
    settings.REALTIME_EMULATOR = True
    return settings


def test_the_emulator_replaces_the_server_key_with_one_of_its_own(emulator_on):
    # Built, not written whole: no scanner should take this file for one holding a key.
    emulator_on.OPENAI_API_KEY = "sk-" + "a-real-key-that-must-not-reach-a-stand-in"

    assert get_settings().openai_api_key == EMULATOR_API_KEY


async def test_the_app_reaches_its_emulator_on_a_loopback_port_of_its_own(emulator_on):
    secret = await upstream.mint_client_secret(get_settings().session_config(), 60)
    socket_session = await upstream.open_socket(get_settings().model)
    try:
        first = json.loads(await socket_session.recv())
    finally:
        await socket_session.close()

    assert secret.value.startswith("ek_")
    assert first["type"] == "session.created"
    assert urlsplit(await upstream.base_url()).hostname == "127.0.0.1"


async def test_concurrent_first_requests_share_one_emulator(emulator_on):
    urls = await asyncio.gather(*(upstream.base_url() for _ in range(5)))

    assert len(set(urls)) == 1


async def test_closing_the_upstream_stops_the_emulator_and_frees_its_port(emulator_on):
    address = urlsplit(await upstream.base_url())

    await upstream.aclose()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=2).close()
