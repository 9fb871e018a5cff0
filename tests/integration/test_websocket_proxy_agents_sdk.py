"""@openai/agents-realtime (the official JS SDK) through the proxy, unchanged: its
OpenAIRealtimeWebSocket transport with the `url` option and a proxy token as API key."""

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import PROJECT, Server, mint_secret, project_env, run_daphne

SDK_TESTS = PROJECT / "tests" / "sdk-js"


@pytest.fixture(scope="module")
def agents_sdk() -> Path:
    node = shutil.which("node")
    assert node, "node is needed: .ci/run installs it"
    assert (SDK_TESTS / "node_modules" / "@openai" / "agents-realtime").is_dir(), (
        "the SDK is not installed: `make test` runs npm install in tests/sdk-js"
    )
    return Path(node)


def agents_text_turn(agents_sdk: Path, server, **env: str) -> dict:
    token = mint_secret(server, "--proxy")["value"]

    result = subprocess.run(
        [str(agents_sdk), "agents_text_turn.mjs"],
        cwd=SDK_TESTS,
        env={
            **server.env,
            "PROXY_URL": f"{server.websocket_url}/v1/realtime?model=gpt-realtime-2.1",
            "PROXY_TOKEN": token,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, emulator, unused_tcp_port_factory) -> Iterator[Server]:
    env = project_env(tmp_path_factory.mktemp("agents") / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port_factory(), REALTIME_RATE_LIMIT="0")
    yield server
    server.kill()


def test_the_agents_sdk_completes_a_text_turn_through_the_proxy(agents_sdk, server):
    turn = agents_text_turn(agents_sdk, server, TRACING="off")

    assert turn["status"] == "completed"
    assert turn["text"] == 'You said: "hello from the agents SDK".'
    assert turn["seen"][0] == "session.created"
    assert turn["errors"] == []


def test_the_agents_sdks_default_tracing_is_refused_by_a_locked_session_and_the_turn_goes_on(
    agents_sdk, server
):
    # The SDK asks for tracing: "auto" once the session is created; traces would go to the
    # server's OpenAI organisation, which is the server's to decide.
    turn = agents_text_turn(agents_sdk, server)

    assert turn["status"] == "completed"
    assert [(error["code"], error["param"]) for error in turn["errors"]] == [
        ("session_locked", "session.tracing")
    ]
