"""Two daphne processes sharing one database and a real Redis behave as one server: one
rate limit, one count of open sessions per client, staff end a session from whichever
process the admin request lands on, whichever process holds it, and a call hung up through
either process ends as a hangup."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from django.test import override_settings

from realtime import tokens
from tests.support.calls import hang_up, listeners, relay_call
from tests.support.polling import eventually, wait_for
from tests.support.realtime_client import connect
from tests.support.servers import (
    SERVER_SECRET_KEY,
    Server,
    create_superuser,
    project_env,
    sign_in,
)
from tests.support.servers import run_daphne as start
from tests.support.webrtc_client import WebRTCClient

STAFF = ("staff", "staff password for the admin")
RATE_LIMIT = 4
SESSIONS_PER_CLIENT = 1


@pytest.fixture(scope="module")
def pair(
    emulator, redis_server, tmp_path_factory, unused_tcp_port_factory
) -> Iterator[tuple[Server, Server]]:
    """Two processes, one database, one Redis, as two machines behind a load balancer."""
    env = project_env(tmp_path_factory.mktemp("pair") / "db.sqlite3", emulator.base_url)
    env = {
        **env,
        "REDIS_URL": redis_server.url,
        "REALTIME_RATE_LIMIT": str(RATE_LIMIT),
        # Windows are aligned to the clock: a minute's window was crossed mid-test once,
        # and the six mints were split between two windows. A day's is not crossed here.
        "REALTIME_RATE_LIMIT_WINDOW": "86400",
        "REALTIME_PROXY_MAX_SESSIONS_PER_USER": str(SESSIONS_PER_CLIENT),
    }
    create_superuser(env, *STAFF)
    servers = [start(env, unused_tcp_port_factory()) for _ in range(2)]
    yield servers[0], servers[1]
    for server in servers:
        server.kill()


@pytest.fixture(autouse=True)
def fresh_limits(redis_server, emulator) -> Iterator[None]:
    """Each test starts with no request counted and no call live."""
    redis_server.flush()
    yield
    emulator.reset()


def proxy_token() -> str:
    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        return tokens.issue(None, 60).value


def socket(server: Server, agent: str):
    return connect(f"{server.websocket_url}/v1/realtime", key=proxy_token(), user_agent=agent)


def mint_headers(server: Server, csrf_token: str) -> dict[str, str]:
    """What the page sends with a mint: its CSRF token, as header and cookie."""
    return {
        "X-CSRFToken": csrf_token,
        "Cookie": f"csrftoken={csrf_token}",
        "Referer": f"{server.url}/",
    }


def mint(browser: httpx.Client, server: Server) -> int:
    page = browser.get(f"{server.url}/")
    return browser.post(
        f"{server.url}/api/realtime/client-secret",
        headers=mint_headers(server, page.cookies["csrftoken"]),
    ).status_code


class Staff:
    """A staff member signed in to one process's admin."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.browser = httpx.Client(
            base_url=server.url, timeout=30, cookies=sign_in(server, *STAFF)
        )

    def end_sessions(self, *session_ids: int) -> str:
        """Run the sessions list's end_sessions action; the page it leads to."""
        listing = "/admin/realtime/realtimesession/"
        answer = self.browser.post(
            listing,
            data={
                "action": "end_sessions",
                "_selected_action": [str(pk) for pk in session_ids],
                "csrfmiddlewaretoken": self.browser.cookies["csrftoken"],
            },
            headers={"Referer": f"{self.server.url}{listing}"},
            follow_redirects=True,
        )
        assert answer.status_code == 200, answer.text[:500]
        return answer.text

    def close(self) -> None:
        self.browser.close()


@pytest.fixture
def staff_on(pair) -> Iterator:
    signed_in: list[Staff] = []

    def sign_in(server: Server) -> Staff:
        signed_in.append(Staff(server))
        return signed_in[-1]

    yield sign_in
    for staff in signed_in:
        staff.close()


def live_session(server: Server, agent: str) -> dict:
    return wait_for(
        lambda: next(
            iter(
                server.rows(
                    "select * from realtime_realtimesession where user_agent = ? "
                    "and ended_at is null",
                    agent,
                )
            ),
            None,
        ),
        10,
        what=f"a live session of {agent}",
    )


def test_the_rate_limit_counts_the_requests_of_both_processes(pair):
    with httpx.Client(timeout=10) as browser:
        statuses = [mint(browser, pair[turn % 2]) for turn in range(RATE_LIMIT + 2)]

    assert statuses == [200] * RATE_LIMIT + [429, 429]


async def test_requests_at_once_on_both_processes_are_refused_past_the_limit(pair):
    async with httpx.AsyncClient(timeout=30) as browser:
        token = (await browser.get(f"{pair[0].url}/")).cookies["csrftoken"]

        async def mint_at_once(server: Server) -> int:
            answer = await browser.post(
                f"{server.url}/api/realtime/client-secret", headers=mint_headers(server, token)
            )
            return answer.status_code

        statuses = await asyncio.gather(*(mint_at_once(pair[n % 2]) for n in range(4 * RATE_LIMIT)))

    assert sorted(statuses) == [200] * RATE_LIMIT + [429] * (3 * RATE_LIMIT)


async def test_a_client_open_on_one_process_counts_against_its_limit_on_the_other(pair, agent):
    first, second = pair
    async with socket(first, agent) as held:
        assert (await held.next())["type"] == "session.created"
        async with socket(second, agent) as refused:
            closed = await refused.closed()

    assert closed == (4429, "invalid_request_error.too_many_sessions")
    assert refused.events[0]["error"]["code"] == "too_many_sessions"


async def test_staff_end_a_proxied_session_that_the_other_process_holds(pair, staff_on, agent):
    holder, other = pair
    async with socket(holder, agent) as client:
        await client.until("session.updated")
        row = live_session(holder, agent)
        page = await asyncio.to_thread(staff_on(other).end_sessions, row["id"])
        closed = await client.closed()

    assert closed == (4410, "invalid_request_error.ended_by_staff")
    assert client.events[-1]["type"] == "error"
    assert client.events[-1]["error"]["code"] == "ended_by_staff"
    assert "Ended 1 session." in page
    ended = holder.ended_session(agent)
    assert (ended["end_reason"], ended["error_code"]) == ("ended_by_staff", "ended_by_staff")


async def test_staff_end_a_webrtc_call_whose_sideband_the_other_process_holds(
    pair, staff_on, emulator, agent
):
    holder, other = pair
    caller = WebRTCClient()
    try:
        call_id = await relay_call(holder, caller, agent)
        await eventually(lambda: listeners(emulator) == 2, 10, what="the sideband to attach")
        [row] = holder.rows("select * from realtime_realtimesession where call_id = ?", call_id)

        page = await asyncio.to_thread(staff_on(other).end_sessions, row["id"])

        await eventually(lambda: listeners(emulator) == 0, 10, what="the hangup")
    finally:
        await caller.close()

    assert "Ended 1 session." in page
    [ended] = holder.rows("select * from realtime_realtimesession where id = ?", row["id"])
    assert ended["end_reason"] == "ended_by_staff"
    assert ended["ended_at"] is not None
    hangups = holder.rows(
        "select source, outcome, upstream_status from realtime_upstreamexchange "
        "where kind = 'hangup' and call_id = ?",
        call_id,
    )
    assert hangups == [{"source": "admin", "outcome": "ok", "upstream_status": 200}]


async def test_a_call_hung_up_through_the_other_process_ends_as_a_hangup_with_its_record(
    pair, emulator, agent
):
    holder, other = pair
    caller = WebRTCClient()
    try:
        call_id = await relay_call(holder, caller, agent)
        await eventually(lambda: listeners(emulator) == 2, 10, what="the sideband")
        await caller.ask("hello from the page")
        await hang_up(other, call_id)
        # The holder's sideband hears the call end and writes the conversation's totals.
        row = await asyncio.to_thread(
            wait_for,
            lambda: next(
                iter(
                    holder.rows(
                        "select * from realtime_realtimesession where call_id = ? "
                        "and turns is not null",
                        call_id,
                    )
                ),
                None,
            ),
            10,
            "the sideband's totals",
        )
    finally:
        await caller.close()

    assert (row["end_reason"], row["turns"]) == ("hangup", 1)
    assert row["total_tokens"] > 0


def test_health_names_the_shared_cache_and_channel_layer(pair):
    answer = httpx.get(f"{pair[1].url}/healthz", timeout=10)

    assert answer.status_code == 200
    assert answer.json()["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"}


@pytest.fixture
def agent(request) -> str:
    return f"pair-{request.node.name}"
