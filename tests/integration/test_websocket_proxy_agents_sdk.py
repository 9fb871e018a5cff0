"""@openai/agents-realtime (the official JS SDK) through the proxy, unchanged: its
OpenAIRealtimeWebSocket transport with the `url` option and a proxy token as API key."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import PROJECT

SDK_TESTS = PROJECT / "tests" / "sdk-js"


@pytest.fixture(scope="module")
def agents_sdk() -> Path:
    node = shutil.which("node")
    assert node, "node is needed: .ci/run installs it"
    assert (SDK_TESTS / "node_modules" / "@openai" / "agents-realtime").is_dir(), (
        "the SDK is not installed: `make test` runs npm install in tests/sdk-js"
    )
    return Path(node)


def test_the_agents_sdk_completes_a_text_turn_through_the_proxy(agents_sdk, start_daphne):
    server = start_daphne(REALTIME_RATE_LIMIT="0")
    token = subprocess.run(
        [sys.executable, "manage.py", "mint_secret", "--proxy", "--json"],
        cwd=PROJECT,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout

    result = subprocess.run(
        [str(agents_sdk), "agents_text_turn.mjs"],
        cwd=SDK_TESTS,
        env={
            **server.env,
            "PROXY_URL": f"{server.websocket_url}/v1/realtime?model=gpt-realtime-2.1",
            "PROXY_TOKEN": json.loads(token)["value"],
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    turn = json.loads(result.stdout.strip().splitlines()[-1])
    assert turn["status"] == "completed"
    assert turn["text"] == 'You said: "hello from the agents SDK".'
    assert turn["seen"][0] == "session.created"
    assert turn["errors"] == []
