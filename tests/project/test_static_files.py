"""Static files in production: `collectstatic`, then WhiteNoise serves them from the app,
compressed, under hashed names cached for good; the page links those, under a
Content-Security-Policy it satisfies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import (
    PLAIN_HTTP_PRODUCTION,
    Server,
    collect_static,
    project_env,
    run_daphne,
)

YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def production(emulator, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("static")
    env = project_env(folder / "db.sqlite3", emulator.base_url)
    env = collect_static({**env, **PLAIN_HTTP_PRODUCTION}, folder / "collected")
    server = run_daphne(env, unused_tcp_port_factory())
    yield server
    server.kill()


def test_the_page_links_hashed_files_that_are_cached_for_good_and_compressed(production):
    with httpx.Client(base_url=production.url, timeout=10) as browser:
        page = browser.get("/")
        [module] = re.findall(r'src="(/static/realtime/app\.[0-9a-f]{12}\.js)"', page.text)
        plain = browser.get(module, headers={"Accept-Encoding": "identity"})
        gzipped = browser.get(module, headers={"Accept-Encoding": "gzip"})

    assert page.status_code == 200
    assert plain.status_code == 200
    assert plain.headers["Content-Type"].startswith("text/javascript")
    max_age = int(re.search(r"max-age=(\d+)", plain.headers["Cache-Control"]).group(1))
    assert max_age >= YEAR
    assert "immutable" in plain.headers["Cache-Control"]
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzipped.text == plain.text  # httpx undoes the gzip
    # The modules it imports are the hashed ones too.
    imports = re.findall(r'from "(\./[^"]+)"', plain.text)
    assert imports
    assert all(re.fullmatch(r"\./\w+\.[0-9a-f]{12}\.js", name) for name in imports)


def test_pages_carry_a_content_security_policy_without_inline_script(production):
    page = httpx.get(f"{production.url}/", timeout=10)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["Content-Security-Policy"].split(";")
    )

    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "<script>" not in page.text  # every script is a file of this origin
    assert " style=" not in page.text


def test_an_unknown_static_file_is_a_plain_404(production):
    assert httpx.get(f"{production.url}/static/realtime/nope.js", timeout=10).status_code == 404
