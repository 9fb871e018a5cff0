import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from django.core.cache import cache
from django.db import connection

from realtime import db, sidebands, upstream
from realtime.emulator.testing import EmulatorProcess
from tests.support.redis import RedisServer
from tests.support.servers import Server, project_env, run_daphne

SERVER_KEY = "sk-test-server-key"
# Nothing listens on the discard port: tests that need OpenAI ask for the emulator.
NO_UPSTREAM = "http://127.0.0.1:9/v1"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Close the database threads' connections before the test database is dropped, and
    on PostgreSQL end any other (a server tool's thread may keep one): PostgreSQL refuses to
    drop a database in use."""
    yield
    db.close_connections()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def realtime_settings(settings):
    """Every test starts with a test key, no upstream and a fresh rate-limit cache."""
    cache.clear()
    settings.OPENAI_API_KEY = SERVER_KEY
    settings.OPENAI_BASE_URL = NO_UPSTREAM
    settings.REALTIME_CONNECT_TIMEOUT = 2.0
    settings.REALTIME_READ_TIMEOUT = 5.0
    return settings


@pytest.fixture(autouse=True)
async def close_upstream_client() -> AsyncIterator[None]:
    """Each test has its own event loop; end the sidebands and close the pooled client made
    on it."""
    yield
    await sidebands.sidebands().stop_all("test_over")
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


@pytest.fixture
def openai_emulator(emulator: EmulatorProcess, settings) -> EmulatorProcess:
    """Point the app's OPENAI_BASE_URL at the emulator."""
    settings.OPENAI_BASE_URL = emulator.base_url
    return emulator


@pytest.fixture
def live_secret(emulator: EmulatorProcess) -> Callable[[], str]:
    """Mint ek_ secrets straight from the emulator, as another client would."""

    def mint() -> str:
        answer = httpx.post(
            f"{emulator.base_url}/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {SERVER_KEY}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["value"]

    return mint


@pytest.fixture(scope="session")
def browser_offer() -> bytes:
    """A real WebRTC offer, as a browser makes one: the oai-events channel and an audio
    track, CRLF line endings. Made by aiortc, with only a loopback candidate: an emulator
    that answers it sends its checks to 127.0.0.1."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from realtime.emulator import loopback

    async def make() -> str:
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer.createDataChannel("oai-events")
        peer.addTransceiver("audio", direction="sendrecv")
        loopback.use_loopback(peer)
        await peer.setLocalDescription(await peer.createOffer())
        sdp = peer.localDescription.sdp
        await peer.close()
        return sdp

    return asyncio.run(make()).encode()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on loopback, for servers that share a channel layer and a cache."""
    server = RedisServer()
    yield server
    server.stop()


# --- the project under real servers (tests.support.servers) -------------------------------


@pytest.fixture
def server_env(tmp_path, emulator) -> dict[str, str]:
    return project_env(tmp_path / "server.sqlite3", emulator.base_url)


@pytest.fixture
def start_daphne(server_env, unused_tcp_port_factory) -> Iterator[Callable[..., Server]]:
    """Start daphne as `make run` does, on a free port, with environment overrides."""
    servers: list[Server] = []

    def start(**overrides: str) -> Server:
        server = run_daphne(server_env, unused_tcp_port_factory(), **overrides)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def daphne(start_daphne) -> Server:
    return start_daphne()
