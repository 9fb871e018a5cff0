"""GET /healthz under a real server: 200 while the database answers, 503 naming it when not."""

from __future__ import annotations

import httpx

from tests.support.servers import project_env, run_daphne


def test_healthz_says_ok_then_names_the_database_once_it_stops_answering(
    tmp_path, emulator, unused_tcp_port
):
    database = tmp_path / "db.sqlite3"
    server = run_daphne(project_env(database, emulator.base_url), unused_tcp_port)
    try:
        healthy = httpx.get(f"{server.url}/healthz", timeout=10)
        assert healthy.status_code == 200
        assert healthy.json() == {"status": "ok", "checks": {"database": "ok"}}
        assert healthy.headers["Cache-Control"] == "no-store"

        # The database file is replaced by something that is no database at all.
        for leftover in tmp_path.glob("db.sqlite3*"):
            leftover.unlink()
        database.write_bytes(b"this is not a database" * 100)
        down = httpx.get(f"{server.url}/healthz", timeout=10)
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"].startswith("down: ")
        assert httpx.post(f"{server.url}/healthz", timeout=10).status_code == 405
    finally:
        server.kill()
