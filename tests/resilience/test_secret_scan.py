"""No secret leaks: after a run of ordinary and failing traffic against a server in debug
mode, neither its OpenAI key nor any full `ek_` value it minted appears in any response
(except the mint's own answer), log line, admin page or stored row."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.databases import every_row
from tests.support.realtime_client import connect
from tests.support.servers import Server, create_superuser, project_env, run_daphne
from tests.support.webrtc_client import WebRTCClient

ADMIN = ("scanner", "scan-" + secrets.token_urlsafe(12))


@pytest.fixture(scope="module")
def server_key() -> str:
    return f"sk-test-scan-{secrets.token_urlsafe(24)}"


@pytest.fixture(scope="module")
def scanned(emulator, server_key, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Server]:
    """daphne in debug mode, where error pages would show locals and settings."""
    env = project_env(tmp_path_factory.mktemp("scan") / "db.sqlite3", emulator.base_url)
    env = {**env, "OPENAI_API_KEY": server_key, "REALTIME_RATE_LIMIT": "0"}
    create_superuser(env, *ADMIN)
    server = run_daphne(env, unused_tcp_port_factory(), DEBUG="true")
    yield server
    server.kill()


def seen(response: httpx.Response) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


async def traffic(server: Server, emulator, browser_offer: bytes) -> tuple[list[str], set[str]]:
    """Ordinary and failing requests of every kind; what they answered, and the ek_ values
    minted (whose only rightful place is their own mint's answer)."""
    answers: list[str] = []
    minted: set[str] = set()
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as browser:
        page = await browser.get("/")
        csrf = {"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{server.url}/"}
        for fault in (None, {"status": 401}, {"status": 500}, {"truncate": True}):
            if fault:
                emulator.fault("client_secrets", **fault)
            mint = await browser.post("/api/realtime/client-secret", headers=csrf)
            if mint.status_code == 200:
                minted.add(mint.json()["value"])
            else:
                answers.append(seen(mint))
        secret = next(iter(minted))
        for headers in (
            {"Authorization": f"Bearer {secret}"},
            {"Authorization": f"Bearer {secret}x"},  # an altered secret: refused upstream
            {"Authorization": f"Bearer sk-{secret}"},  # a server-key-shaped credential
            csrf,
            {"Authorization": "Basic c2NhbjpzY2Fu"},  # not a bearer at all
        ):
            client = WebRTCClient()
            try:
                offer = await client.offer()
                answer = await browser.post(
                    "/api/realtime/handshake",
                    content=offer,
                    headers={"Content-Type": "application/sdp", **headers},
                )
                answers.append(seen(answer))
            finally:
                await client.close()
        for body in (b"{}", b'{"call_id": "rtc_missing"}', b"[" * 5000, b"not json"):
            hangup = await browser.post("/api/realtime/hangup", content=body, headers=csrf)
            answers.append(seen(hangup))
        answers.append(seen(await browser.get("/api/realtime/handshake")))
        answers.append(seen(await browser.get("/no-such-page")))
    for protocols in (None, ["realtime", f"openai-insecure-api-key.{secret}"]):
        async with connect(
            f"{server.websocket_url}/ws/realtime/",
            headers={"Origin": server.url},
            subprotocols=protocols,
            user_agent=f"scan-{uuid.uuid4().hex[:8]}",
        ) as proxied:
            await proxied.until("session.updated" if protocols is None else "error")
            if protocols is None:
                await proxied.ask("hello")
                await proxied.until("response.done")
        answers.extend(map(str, proxied.events))
    return answers, minted


def admin_pages(server: Server) -> list[str]:
    """Every admin page a staff member would read, as the admin renders it."""
    pages = []
    with httpx.Client(base_url=server.url, timeout=20, follow_redirects=True) as staff:
        login = staff.get("/admin/login/")
        staff.post(
            "/admin/login/",
            data={
                "username": ADMIN[0],
                "password": ADMIN[1],
                "csrfmiddlewaretoken": login.cookies["csrftoken"],
                "next": "/admin/",
            },
        )
        for model in ("upstreamexchange", "realtimesession"):
            listing = staff.get(f"/admin/realtime/{model}/")
            assert listing.status_code == 200, listing.text[:500]
            pages.append(listing.text)
            for row in server.rows(f"select id from realtime_{model}"):  # noqa: S608
                pages.append(staff.get(f"/admin/realtime/{model}/{row['id']}/change/").text)
    return pages


def stored(server: Server) -> str:
    return every_row(server.env["DATABASE_URL"])


async def test_no_key_or_secret_appears_in_answers_logs_admin_or_rows(
    scanned, emulator, server_key, browser_offer
):
    answers, minted = await traffic(scanned, emulator, browser_offer)
    places = {
        "answers": "\n".join(answers),
        "log": scanned.output,
        "admin": "\n".join(admin_pages(scanned)),
        "rows": stored(scanned),
    }

    assert minted, "the run minted no secret to look for"
    assert places["admin"].count('id="changelist"') == 2
    assert places["admin"].count("| View upstream exchange |") >= 10  # the detail pages
    for place, text in places.items():
        assert server_key not in text, f"the server key appears in {place}"
        for secret in minted:
            assert secret not in text, f"a minted ek_ secret appears in {place}"
