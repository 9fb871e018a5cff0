"""The README's "Add realtime to your own project" works: tests/otherproject is made of its
lines, and served by uvicorn it gives the page, the mint, both WebRTC flows and the proxy."""

import os
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.support.realtime_client import connect
from tests.support.servers import BIN, PROJECT, Server
from tests.support.webrtc_client import WebRTCClient

OTHER_PROJECT = PROJECT / "tests" / "otherproject"
SECTION = re.compile(r"^## Add `realtime` to your own project$(.*?)^## ", re.M | re.S)
BLOCK = re.compile(r"^```python\n# mysite/(?P<file>\w+\.py)\n(?P<code>.*?)^```$", re.M | re.S)


def readme_blocks() -> list[tuple[str, str]]:
    section = SECTION.search((PROJECT / "README.md").read_text() + "\n## ")
    assert section, "the README has no 'Add realtime to your own project' section"
    return [(block["file"], block["code"]) for block in BLOCK.finditer(section.group(1))]


def test_the_other_project_is_made_of_the_readmes_lines():
    blocks = readme_blocks()

    assert [file for file, _ in blocks] == ["settings.py", "urls.py", "asgi.py"]
    for file, code in blocks:
        written = code.replace("mysite", "tests.otherproject")
        assert written in (OTHER_PROJECT / file).read_text(), f"README's {file} lines differ"


def django_admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "django-admin"), *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def other_project(emulator, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Server]:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(PROJECT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.otherproject.settings",
        "OTHER_PROJECT_DB": str(tmp_path_factory.mktemp("other") / "db.sqlite3"),
        "OPENAI_API_KEY": "sk-test-other-project",
        "OPENAI_BASE_URL": emulator.base_url,
    }
    migrated = django_admin(env, "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    port = unused_tcp_port_factory()
    server = Server(
        [
            str(BIN / "uvicorn"),
            "--port",
            str(port),
            "--ws",
            "websockets-sansio",
            "tests.otherproject.asgi:application",
        ],
        env,
        ready_text="Uvicorn running on",
    )
    server.url = f"http://127.0.0.1:{port}"
    server.websocket_url = f"ws://127.0.0.1:{port}"
    server.env = env
    server.wait_ready()
    yield server
    server.kill()


def test_the_other_project_passes_its_checks(other_project):
    checked = django_admin(other_project.env, "check", "--fail-level", "WARNING")

    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_the_page_mint_calls_and_proxy_work_in_the_other_project(other_project):
    async with httpx.AsyncClient(base_url=other_project.url, timeout=20) as browser:
        page = await browser.get("/voice/")
        assert page.status_code == 200
        assert "/voice/api/realtime/handshake" in page.text
        browser.headers["X-CSRFToken"] = page.cookies["csrftoken"]
        browser.headers["Referer"] = f"{other_project.url}/voice/"
        minted = await browser.post("/voice/api/realtime/client-secret")
        assert minted.status_code == 200, minted.text

        for bearer in (minted.json()["value"], None):  # the ephemeral flow, then the unified
            client = WebRTCClient()
            headers = {"Content-Type": "application/sdp"}
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            try:
                answer = await browser.post(
                    "/voice/api/realtime/handshake", content=await client.offer(), headers=headers
                )
                assert answer.status_code == 201, answer.text
                await client.accept(answer.text)
                assert (await client.events.get())["type"] == "session.created"
            finally:
                await client.close()

    async with connect(
        f"{other_project.websocket_url}/ws/realtime/", headers={"Origin": other_project.url}
    ) as proxied:
        await proxied.until("session.updated")
        await proxied.ask("hello")
        done = (await proxied.until("response.done"))[-1]

    assert done["response"]["status"] == "completed"
