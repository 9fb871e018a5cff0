"""Every entry point against every upstream fault, in one table.

Each cell makes one request (or one proxied session, or one `mint_secret` run) while the
upstream misbehaves once, and asserts what the client gets (status and error code, or close
code and `error` event), the hint, the row and its outcome; then that the next request is
served. The README's error and close-code tables are checked against the codes used here.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from django.core.management import CommandError, call_command

from realtime.errors import PROBLEMS
from realtime.models import UpstreamExchange
from tests.support.polling import wait_for
from tests.support.realtime_client import connect
from tests.support.servers import PROJECT, Server, project_env, run_daphne

README = (PROJECT / "README.md").read_text()
# A label longer than DNS allows: the resolver refuses the name without asking anyone, so
# the failure stays on this machine.
UNRESOLVABLE = "http://" + "x" * 64 + ".invalid/v1"
REFUSED = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
SETTINGS = {
    "REALTIME_RATE_LIMIT": "0",
    "REALTIME_PROXY_MAX_SESSIONS_PER_USER": "1000",
    "REALTIME_CONNECT_TIMEOUT": "1",
    "REALTIME_READ_TIMEOUT": "1",
}


@dataclass(frozen=True)
class Fault:
    """An upstream misbehaviour: where the server points, or what the emulator does once."""

    upstream: str = "emulator"  # or "refused", "unresolvable"
    http: dict | None = None  # the emulator fault for HTTP endpoints
    socket: dict | None = None  # the emulator fault for the realtime WebSocket


FAULTS = {
    "connection refused": Fault(upstream="refused"),
    "DNS failure": Fault(upstream="unresolvable"),
    "401": Fault(http={"status": 401}, socket={"status": 401}),
    "429 with Retry-After": Fault(
        http={"status": 429, "retry_after": 7}, socket={"status": 429, "retry_after": 7}
    ),
    "500": Fault(http={"status": 500}, socket={"status": 500}),
    "503": Fault(http={"status": 503}, socket={"status": 503}),
    "hang past the timeout": Fault(http={"hang": True}, socket={"never_open": True}),
    "2xx not what was asked": Fault(
        http={"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"},
        socket={"status": 200},
    ),
    "dropped mid-answer": Fault(http={"truncate": True}, socket={"drop_after_events": 1}),
}


@dataclass(frozen=True)
class Expect:
    """What the client gets: an HTTP status or a close code, our error code, the row's
    outcome; ``retry_after`` when the answer must carry it on."""

    code: str
    outcome: str
    status: int | None = None
    close: int | None = None
    retry_after: str | None = None


UNREACHABLE_HTTP = Expect("upstream_unreachable", "unreachable", status=502)
UNREACHABLE_SOCKET = Expect("upstream_unreachable", "unreachable", close=4502)
HTTP_EXPECTED = {
    "connection refused": UNREACHABLE_HTTP,
    "DNS failure": UNREACHABLE_HTTP,
    "401": Expect("invalid_api_key", "upstream_error", status=401),
    "429 with Retry-After": Expect(
        "rate_limit_exceeded", "upstream_error", status=429, retry_after="7"
    ),
    "500": Expect("upstream_server_error", "upstream_error", status=502),
    "503": Expect("upstream_server_error", "upstream_error", status=502),
    "hang past the timeout": Expect("upstream_timeout", "timeout", status=504),
    "2xx not what was asked": Expect("upstream_invalid_answer", "invalid_answer", status=502),
    "dropped mid-answer": Expect("upstream_answer_lost", "unreachable", status=502),
}
SOCKET_EXPECTED = {
    "connection refused": UNREACHABLE_SOCKET,
    "DNS failure": UNREACHABLE_SOCKET,
    "401": Expect("invalid_api_key", "upstream_error", close=3000),
    "429 with Retry-After": Expect("rate_limit_exceeded", "upstream_error", close=4429),
    "500": Expect("upstream_server_error", "upstream_error", close=4502),
    "503": Expect("upstream_server_error", "upstream_error", close=4502),
    "hang past the timeout": Expect("upstream_timeout", "timeout", close=4504),
    "2xx not what was asked": Expect("upstream_invalid_answer", "invalid_answer", close=4502),
    # The upgrade went through (its exchange is ok); the session then lost OpenAI.
    "dropped mid-answer": Expect("upstream_connection_lost", "ok", close=4502),
}
# A hangup's 2xx is its whole answer: any 2xx is what was asked.
HANGUP_EXPECTED = {
    **HTTP_EXPECTED,
    "2xx not what was asked": Expect("", "ok", status=204),
}
ENDPOINT_OF = {
    "mint": "client_secrets",
    "handshake ek_": "calls",
    "handshake unified": "calls",
    "hangup": "hangup",
    "mint_secret": "client_secrets",
}


@pytest.fixture(scope="module")
def servers(emulator, tmp_path_factory, unused_tcp_port_factory) -> Iterator[dict[str, Server]]:
    """One daphne per upstream: the emulator, a closed port, a name that cannot resolve."""
    started = {}
    for name, base_url in (
        ("emulator", emulator.base_url),
        ("refused", REFUSED),
        ("unresolvable", UNRESOLVABLE),
    ):
        env = project_env(tmp_path_factory.mktemp(name) / "db.sqlite3", base_url)
        started[name] = run_daphne(env, unused_tcp_port_factory(), **SETTINGS)
    yield started
    for server in started.values():
        server.kill()


def exchange_row(server: Server, agent: str) -> dict:
    """The one exchange row the request with this User-Agent left."""
    rows = wait_for(
        lambda: server.rows(
            "select * from realtime_upstreamexchange where user_agent = ? order by id", agent
        ),
        what=f"the exchange row of {agent}",
    )
    assert len(rows) == 1, f"expected one row for the request, found {len(rows)}"
    return rows[0]


class Browser:
    """A page's browser against one server: its cookie and CSRF header; ``secret`` gives
    the ek_ secrets its ephemeral handshakes present."""

    def __init__(self, server: Server, secret: Callable[[], str]) -> None:
        self.server = server
        self.secret = secret
        self.client = httpx.Client(base_url=server.url, timeout=15)
        page = self.client.get("/")
        self.csrf = {"X-CSRFToken": page.cookies["csrftoken"], "Referer": f"{server.url}/"}

    def request(self, entry: str, offer: bytes, agent: str) -> httpx.Response:
        headers = {"User-Agent": agent}
        if entry == "mint":
            return self.client.post("/api/realtime/client-secret", headers={**headers, **self.csrf})
        if entry == "hangup":
            return self.client.post(
                "/api/realtime/hangup",
                json={"call_id": "rtc_" + uuid.uuid4().hex},
                headers={**headers, **self.csrf},
            )
        headers["Content-Type"] = "application/sdp"
        if entry == "handshake ek_":
            headers["Authorization"] = f"Bearer {self.secret()}"
        else:
            headers.update(self.csrf)
        return self.client.post("/api/realtime/handshake", content=offer, headers=headers)


@pytest.mark.parametrize("fault_name", FAULTS)
@pytest.mark.parametrize("entry", ["mint", "handshake ek_", "handshake unified", "hangup"])
def test_an_http_entry_point_answers_each_fault_in_json_and_records_it(
    servers, emulator, live_secret, browser_offer, entry, fault_name
):
    fault = FAULTS[fault_name]
    expect = (HANGUP_EXPECTED if entry == "hangup" else HTTP_EXPECTED)[fault_name]
    server = servers[fault.upstream]
    # Only the emulator can mint a live secret; an unreachable upstream never sees one.
    secret = live_secret if fault.upstream == "emulator" else (lambda: "ek_" + "0" * 32)
    browser = Browser(server, secret)
    if fault.http is not None:
        emulator.fault(ENDPOINT_OF[entry], **fault.http)
    agent = f"matrix-{uuid.uuid4().hex[:12]}"

    answer = browser.request(entry, browser_offer, agent)

    assert answer.status_code == expect.status, answer.text
    row = exchange_row(server, agent)
    assert (row["outcome"], row["http_status"]) == (expect.outcome, expect.status)
    if expect.code:
        error = answer.json()["error"]
        assert error["code"] == expect.code
        assert error["hint"]
        assert row["error_code"] == expect.code
    if expect.retry_after:
        assert answer.headers["Retry-After"] == expect.retry_after
    following = browser.request(entry, browser_offer, f"{agent}-next")
    if fault.upstream == "emulator":
        assert following.status_code in {200, 201, 204}, following.text
    else:
        assert following.status_code == expect.status  # still answered, still in JSON
        assert following.json()["error"]["code"] == expect.code


@pytest.mark.parametrize("fault_name", FAULTS)
async def test_the_websocket_proxy_closes_each_fault_with_an_event_and_records_it(
    servers, emulator, fault_name
):
    fault = FAULTS[fault_name]
    expect = SOCKET_EXPECTED[fault_name]
    server = servers[fault.upstream]
    if fault.socket is not None:
        emulator.fault("realtime", **fault.socket)
    agent = f"matrix-{uuid.uuid4().hex[:12]}"

    async with connect(
        f"{server.websocket_url}/ws/realtime/", headers={"Origin": server.url}, user_agent=agent
    ) as client:
        close_code, reason = await client.closed(seconds=15)

    errors = [event for event in client.events if event["type"] == "error"]
    assert close_code == expect.close, (reason, client.events)
    assert errors, client.events
    assert errors[-1]["error"]["code"] == expect.code
    assert reason.endswith(f".{expect.code}")
    # A failed upgrade's code is on its exchange; a session that opened and then lost
    # OpenAI ends with the code on its session row.
    exchange = exchange_row(server, agent)
    session = server.ended_session(agent)
    assert exchange["outcome"] == expect.outcome
    assert (session if exchange["outcome"] == "ok" else exchange)["error_code"] == expect.code
    async with connect(
        f"{server.websocket_url}/ws/realtime/", headers={"Origin": server.url}
    ) as following:
        first = await following.next(seconds=15)
    assert first["type"] == ("session.created" if fault.upstream == "emulator" else "error")


@pytest.mark.django_db
@pytest.mark.parametrize("fault_name", FAULTS)
def test_mint_secret_exits_1_with_the_hint_for_each_fault_and_records_it(
    settings, emulator, fault_name
):
    fault = FAULTS[fault_name]
    expect = HTTP_EXPECTED[fault_name]
    settings.OPENAI_BASE_URL = {
        "emulator": emulator.base_url,
        "refused": REFUSED,
        "unresolvable": UNRESOLVABLE,
    }[fault.upstream]
    settings.REALTIME_READ_TIMEOUT = 1.0
    if fault.http is not None:
        emulator.fault("client_secrets", **fault.http)

    with pytest.raises(CommandError) as failed:
        call_command("mint_secret", stdout=io.StringIO(), stderr=io.StringIO())

    assert failed.value.returncode == 1
    assert "\nhint: " in str(failed.value)
    row = UpstreamExchange.objects.get()
    assert (row.outcome, row.error_code) == (expect.outcome, expect.code)
    if fault.upstream == "emulator":
        stdout = io.StringIO()
        call_command("mint_secret", stdout=stdout, stderr=io.StringIO())
        assert stdout.getvalue().startswith("ek_")


def test_the_readme_documents_every_code_the_matrix_answers_with():
    rows = README.splitlines()
    for expect in [*HTTP_EXPECTED.values(), *SOCKET_EXPECTED.values()]:
        if expect.code not in PROBLEMS:  # OpenAI's own code, passed through with our hint
            assert f"`{expect.code}`" in README
        elif expect.status is not None:
            assert f"| `{expect.code}` | {PROBLEMS[expect.code].status} |" in README
        else:
            assert any(f"`{expect.code}`" in row and f"| {expect.close} |" in row for row in rows)
