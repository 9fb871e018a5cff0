"""The example deployment in deploy/: systemd accepts its units, and nginx, configured from
its example, serves the app over TLS: the https redirect, the health check over plain http,
the collected static files, the body cap, and a WebSocket session through the proxy."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.test import override_settings

from realtime import drain, tokens
from realtime.conf import RealtimeSettings
from tests.support.polling import wait_for
from tests.support.ports import free_port
from tests.support.realtime_client import connect
from tests.support.servers import (
    PROJECT,
    SERVER_SECRET_KEY,
    Server,
    collect_static,
    project_env,
    run_daphne,
)

DEPLOY = PROJECT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def unit_setting(unit: str, name: str) -> str:
    text = (DEPLOY / "systemd" / unit).read_text().replace("\\\n", " ")
    return re.search(rf"^{name}=(.*)$", text, re.MULTILINE).group(1)


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify`, with the paths and user of this machine in the units'."""
    environment = tmp_path / "env"
    environment.write_text("WEB_CONCURRENCY=2\n")
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = unit.read_text().replace("/srv/voiceproject", str(PROJECT))
        text = text.replace("/etc/voiceproject/env", str(environment))
        text = re.sub(r"^User=.*$", f"User={user}", text, flags=re.MULTILINE)
        text = re.sub(r"^Group=.*$", f"Group={group}", text, flags=re.MULTILINE)
        units.append(tmp_path / unit.name)
        units[-1].write_text(text)

    verified = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (verified.returncode, verified.stderr) == (0, "")


def test_the_unit_gives_a_stopping_server_the_time_its_drain_takes():
    grace = RealtimeSettings().shutdown_grace + drain.FINISH_ALLOWANCE
    uvicorn_grace = int(
        re.search(
            r"--timeout-graceful-shutdown (\d+)", unit_setting("voiceproject.service", "ExecStart")
        ).group(1)
    )
    stop_timeout = int(unit_setting("voiceproject.service", "TimeoutStopSec"))

    assert grace <= uvicorn_grace < stop_timeout
    assert unit_setting("voiceproject.service", "KillSignal") == "SIGTERM"


class Nginx:
    def __init__(self, folder: Path, app: Server, static_root: Path) -> None:
        self.http_port, self.https_port = free_port(), free_port()
        certificate, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(certificate),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        app_port = app.url.rsplit(":", 1)[1]
        site = (DEPLOY / "nginx" / "voiceproject.conf").read_text()
        for example, here in {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
            "listen 80;": f"listen 127.0.0.1:{self.http_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{self.https_port} ssl http2;",
            "/etc/letsencrypt/live/voice.example.com/fullchain.pem": str(certificate),
            "/etc/letsencrypt/live/voice.example.com/privkey.pem": str(key),
            "/srv/voiceproject/staticfiles/": f"{static_root}/",
        }.items():
            assert example in site, example
            site = site.replace(example, here)
        site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
        (folder / "site.conf").write_text(site)
        temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temp.values():
            path.mkdir()
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf = folder / "nginx.conf"
        self.conf.write_text(
            f"""{user}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {folder}/site.conf;
}}
"""
        )
        self.folder = folder
        self.static_root = static_root
        self.checked = subprocess.run(
            [NGINX, "-t", "-p", str(folder), "-c", str(self.conf)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self._listens(), 10, what="nginx to listen")

    def _listens(self) -> bool:
        assert self.process.poll() is None, (self.folder / "error.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def nginx(emulator, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Nginx]:
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: `make deps` installs it (Debian's nginx)")
    folder = tmp_path_factory.mktemp("nginx")
    env = project_env(folder / "db.sqlite3", emulator.base_url)
    static_root = folder / "static"
    collect_static(env, static_root)
    app = run_daphne(env, unused_tcp_port_factory(), REALTIME_RATE_LIMIT="0")
    proxy = Nginx(folder, app, static_root)
    yield proxy
    proxy.stop()
    app.kill()


def https(nginx: Nginx) -> httpx.Client:
    # The test's own self-signed certificate.
    return httpx.Client(
        base_url=f"https://127.0.0.1:{nginx.https_port}",
        verify=False,  # noqa: S501
        timeout=10,
    )


def test_nginx_accepts_the_example_configuration(nginx):
    assert nginx.checked.returncode == 0, nginx.checked.stderr
    assert "test is successful" in nginx.checked.stderr


def test_plain_http_is_sent_to_https_except_the_health_check(nginx):
    plain = f"http://127.0.0.1:{nginx.http_port}"

    page = httpx.get(f"{plain}/", timeout=10)
    health = httpx.get(f"{plain}/healthz", timeout=10)

    assert page.status_code == 301
    assert page.headers["Location"].startswith("https://")
    assert (health.status_code, health.json()["status"]) == (200, "ok")


def test_https_serves_the_page_and_the_collected_static_files(nginx):
    with https(nginx) as browser:
        page = browser.get("/")
        module = browser.get("/static/realtime/app.js")

    assert page.status_code == 200
    assert module.text == (nginx.static_root / "realtime" / "app.js").read_text()
    assert "immutable" in module.headers["Cache-Control"]


def test_bodies_past_the_apps_limit_are_refused_at_the_proxy(nginx):
    with https(nginx) as browser:
        refused = browser.post(
            "/api/realtime/handshake",
            content=b"v=0\r\n" * 20_000,
            headers={"Content-Type": "application/sdp"},
        )

    assert refused.status_code == 413


async def test_a_websocket_session_goes_through_the_proxy(nginx):
    with override_settings(SECRET_KEY=SERVER_SECRET_KEY):
        token = tokens.issue(None, 60).value
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    async with connect(
        f"wss://127.0.0.1:{nginx.https_port}/v1/realtime", key=token, ssl=context
    ) as client:
        created = await client.next()

    assert created["type"] == "session.created"
