"""The project under real servers: daphne as `make run` starts it, and runserver."""

import sys

import httpx

from tests.support.servers import Server


def test_daphne_serves_the_page_its_module_mint_and_relay(daphne, browser_offer):
    with httpx.Client(base_url=daphne.url, timeout=10) as browser:
        page = browser.get("/")
        module = browser.get("/static/realtime/webrtc.js")
        minted = browser.post(
            "/api/realtime/client-secret",
            headers={"X-CSRFToken": page.cookies["csrftoken"], "Referer": daphne.url + "/"},
        )
        answer = browser.post(
            "/api/realtime/handshake",
            content=browser_offer,
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {minted.json()['value']}",
            },
        )

    assert page.status_code == 200
    assert module.status_code == 200
    assert "oai-events" in module.text
    assert minted.status_code == 200, minted.text
    assert answer.status_code == 201
    assert answer.content.startswith(b"v=0")
    rows = [
        tuple(row.values())
        for row in daphne.rows(
            "select kind, outcome, client_ip, session_id from realtime_upstreamexchange order by id"
        )
    ]
    assert [(kind, outcome, ip) for kind, outcome, ip, _ in rows] == [
        ("client_secret", "ok", "127.0.0.1"),
        ("call", "ok", "127.0.0.1"),
    ]
    assert rows[0][3] == rows[1][3]


def test_daphne_closes_the_pooled_client_when_stopped(daphne):
    with httpx.Client(base_url=daphne.url, timeout=10) as browser:
        page = browser.get("/")
        browser.post(
            "/api/realtime/client-secret",
            headers={"X-CSRFToken": page.cookies["csrftoken"], "Referer": daphne.url + "/"},
        )

    status = daphne.interrupt()

    assert status == 0, daphne.output
    assert "closed the pooled OpenAI HTTP client" in daphne.output


def test_daphne_answers_json_when_the_upstream_is_down(
    start_daphne, unused_tcp_port, browser_offer
):
    server = start_daphne(OPENAI_BASE_URL=f"http://127.0.0.1:{unused_tcp_port}/v1")

    response = httpx.post(
        f"{server.url}/api/realtime/handshake",
        content=browser_offer,
        headers={"Content-Type": "application/sdp", "Authorization": "Bearer ek_unknown"},
        timeout=10,
    )

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert server.rows("select outcome, http_status from realtime_upstreamexchange") == [
        {"outcome": "unreachable", "http_status": 502}
    ]


def test_manage_py_runserver_serves_asgi_through_daphne(server_env, unused_tcp_port):
    server = Server(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{unused_tcp_port}"],
        server_env,
        # Daphne's own line, once it listens (runserver's banner comes before the app loads).
        ready_text="Listening on TCP address",
    )
    try:
        server.wait_ready()
        response = httpx.get(f"http://127.0.0.1:{unused_tcp_port}/", timeout=10)
    finally:
        server.kill()

    assert "Starting ASGI/Daphne" in server.output
    assert response.status_code == 200, server.output
