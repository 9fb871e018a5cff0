"""GET /healthz under a real server: 200 while the database answers, 503 naming it when not."""

from __future__ import annotations

import httpx

from tests.support.databases import destroy
from tests.support.redis import RedisServer
from tests.support.servers import project_env, run_daphne


def test_healthz_says_ok_then_names_the_database_once_it_stops_answering(
    tmp_path, emulator, unused_tcp_port
):
    server = run_daphne(project_env(tmp_path / "db.sqlite3", emulator.base_url), unused_tcp_port)
    try:
        healthy = httpx.get(f"{server.url}/healthz", timeout=10)
        assert healthy.status_code == 200
        assert healthy.json() == {"status": "ok", "checks": {"database": "ok"}}
        assert healthy.headers["Cache-Control"] == "no-store"

        destroy(server.env["DATABASE_URL"])
        down = httpx.get(f"{server.url}/healthz", timeout=10)
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"].startswith("down: ")
        assert httpx.post(f"{server.url}/healthz", timeout=10).status_code == 405
    finally:
        server.kill()


def test_healthz_names_redis_when_the_shared_cache_and_channel_layer_stop_answering(
    tmp_path, emulator, unused_tcp_port
):
    redis = RedisServer()
    env = project_env(tmp_path / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port, REDIS_URL=redis.url)
    try:
        healthy = httpx.get(f"{server.url}/healthz", timeout=10)
        assert healthy.status_code == 200
        assert healthy.json()["checks"] == {
            "database": "ok",
            "cache": "ok",
            "channel_layer": "ok",
        }

        redis.stop()
        down = httpx.get(f"{server.url}/healthz", timeout=10)
        assert down.status_code == 503
        checks = down.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["cache"].startswith("down: ")
        assert checks["channel_layer"].startswith("down: ")
    finally:
        server.kill()
        redis.stop()
