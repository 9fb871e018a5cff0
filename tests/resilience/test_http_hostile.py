"""Hostile HTTP against the API's three endpoints: whatever the method, headers, body,
content type, size or framing, the answer is JSON with one of our codes (never a 500,
never HTML, never a traceback, never a secret) and the request leaves exactly one row.

In process, Django's test client makes many examples quickly; Django's ASGI handler, driven
directly, takes the framings the test client cannot make (a body in chunks with no
declared length, raw header bytes); a real daphne, over raw sockets, takes a smaller set
(chunked bodies past the limit, malformed header bytes, a hostile Host).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from realtime import upstream
from realtime.conf import MAX_BODY_BYTES
from realtime.errors import PROBLEMS
from realtime.hints import UPSTREAM_HINTS
from realtime.middleware import ApiBodyLimit
from realtime.models import UpstreamExchange
from tests.conftest import SERVER_KEY
from tests.support.servers import Server, project_env, run_daphne

ENDPOINTS = ("client-secret", "handshake", "hangup")
# An ek_ secret the requests carry: no answer may show it.
PLANTED = "ek_" + "planted" * 3
CSRF = "c" * 32  # a CSRF secret in the form Django's cookie holds
HUGE = MAX_BODY_BYTES + 1


class Filler(bytes):
    """A long body whose repr, in a failing example, says only how long it is."""

    def __repr__(self) -> str:
        return f"Filler({len(self)} bytes)"


def filler(size: int, byte: bytes = b"x") -> Filler:
    return Filler(byte * size)


STACK = [  # voiceproject's middleware: CommonMiddleware is the one that checks the Host
    "realtime.middleware.ApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# Bounded: the whole file runs in well under a minute on two cores.
HYPOTHESIS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_api_answer(status: int, headers: dict[str, str], body: bytes) -> None:
    """The invariants of every answer from the API."""
    assert status < 500 or status in {502, 503, 504}, body[:300]
    assert headers.get("content-type") == "application/json", (status, body[:300])
    seen = body.decode("latin-1") + json.dumps(headers)
    for secret in (SERVER_KEY, PLANTED, "Traceback"):
        assert secret not in seen
    if status >= 400 and body:  # a HEAD answer has none
        code = json.loads(body)["error"]["code"]
        # Ours, or OpenAI's refusal passed through (its code, or its status named).
        assert code in PROBLEMS or code in UPSTREAM_HINTS or code.startswith("upstream_"), code


# --- in process: Django's test client -----------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    endpoint: str
    method: str = "POST"
    body: bytes = b""
    content_type: str = "application/sdp"
    headers: dict[str, str] = field(default_factory=dict)
    csrf: bool = True  # the page's cookie and header, as a browser would send them


CONTENT_TYPES = (
    *("application/sdp", "application/json", "text/plain", "application/x-www-form-urlencoded"),
    *("multipart/form-data; boundary=", "multipart/form-data; boundary=x"),
    "application/sdp; charset=nonexistent",
)
HEADER_NAMES = (
    *("Authorization", "X-CSRFToken", "Cookie", "User-Agent", "Origin", "Referer", "Host"),
    *("X-Forwarded-For", "Content-Length", "Transfer-Encoding"),
)
latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.just(PLANTED),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10) | st.just(PLANTED), children, max_size=4)
    ),
    max_leaves=10,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.builds(lambda call_id: json.dumps({"call_id": call_id}).encode(), latin1),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(0, 300).map(lambda size: b"v=0\r\n" + b"a=x\r\n" * size),
    st.sampled_from([filler(MAX_BODY_BYTES), filler(HUGE), Filler(b"&".join([b"f=1"] * 1500))]),
)
hostile = st.builds(
    Hostile,
    endpoint=st.sampled_from(ENDPOINTS),
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS", "HEAD"]),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    headers=st.dictionaries(
        st.sampled_from(HEADER_NAMES),
        latin1 | st.sampled_from([f"Bearer {PLANTED}", PLANTED, f"csrftoken={PLANTED}"]),
        max_size=4,
    ),
    csrf=st.booleans(),
)


async def send_hostile(attempt: Hostile) -> None:
    before = await UpstreamExchange.objects.acount()
    client = AsyncClient(enforce_csrf_checks=True, raise_request_exception=False)
    headers = dict(attempt.headers)
    if attempt.csrf:
        client.cookies["csrftoken"] = CSRF
        headers.setdefault("X-CSRFToken", CSRF)
    try:
        response = await client.generic(
            attempt.method,
            f"/api/realtime/{attempt.endpoint}",
            data=attempt.body,
            content_type=attempt.content_type,
            headers=headers,
        )
    finally:
        await upstream.aclose()  # each example has a loop of its own
    answer = {name.lower(): value for name, value in response.headers.items()}
    assert_api_answer(response.status_code, answer, response.content)
    assert await UpstreamExchange.objects.acount() == before + 1


@pytest.fixture
def hostile_settings(settings):
    """Debug pages on (the worst a mistake could show), the rate limit off (every example
    comes from one client), and voiceproject's middleware."""
    settings.DEBUG = True
    settings.REALTIME_RATE_LIMIT = 0
    settings.MIDDLEWARE = STACK
    return settings


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hostile_settings")
@settings(HYPOTHESIS, max_examples=150)
@given(attempt=hostile)
@example(attempt=Hostile("handshake", headers={"Authorization": "Bearer ek_\xe9\xff"}, csrf=False))
@example(attempt=Hostile("handshake", headers={"Authorization": "Bearer " + "ek_x" * 5000}))
@example(
    attempt=Hostile(
        "client-secret", body=Filler(b"[" * 5000 + b"]" * 5000), content_type="text/plain"
    )
)
@example(
    attempt=Hostile("hangup", body=Filler(b'{"call_id":' * 3000), content_type="application/json")
)
@example(
    attempt=Hostile("client-secret", body=b"--x\r\n", content_type="multipart/form-data; boundary=")
)
@example(
    attempt=Hostile(
        "hangup",
        body=Filler(b"&".join([b"f=1"] * 1500)),
        content_type="application/x-www-form-urlencoded",
    )
)
@example(attempt=Hostile("client-secret", headers={"Host": "evil.example"}))
@example(attempt=Hostile("hangup", headers={"Host": "\xe9\xff:99999"}))
@example(attempt=Hostile("handshake", body=b"v=0\r\n", headers={"Content-Length": "abc"}))
@example(attempt=Hostile("handshake", body=b"v=0\r\n", headers={"Content-Length": "-5"}))
@example(
    attempt=Hostile("client-secret", body=b"{}", headers={"X-Forwarded-For": "\xff, ::1%eth0"})
)
@example(attempt=Hostile("client-secret", body=json.dumps({"transport": PLANTED}).encode()))
@example(attempt=Hostile("client-secret", body=json.dumps({PLANTED: 1}).encode()))
@example(attempt=Hostile("handshake", body=filler(HUGE)))
@example(attempt=Hostile("hangup", method="GET"))
@example(attempt=Hostile("handshake", method="HEAD"))
def test_hostile_requests_get_json_with_our_code_and_leave_one_row(attempt):
    asyncio.run(send_hostile(attempt))


# --- in process: Django's ASGI handler, for framings the test client cannot make ----------


async def over_asgi(
    app, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """Send one request to an ASGI app, its body in ``chunks``; return the answer."""
    sent = [
        {"type": "http.request", "body": chunk, "more_body": number < len(chunks) - 1}
        for number, chunk in enumerate(chunks or [b""])
    ]
    answered = asyncio.Event()
    start, body = {}, []

    async def receive():
        if sent:
            return sent.pop(0)
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            body.append(message.get("body", b""))
            if not message.get("more_body"):
                answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    try:
        await app(scope, receive, send)
    finally:
        await upstream.aclose()
    answer = {name.decode().lower(): value.decode("latin-1") for name, value in start["headers"]}
    return start["status"], answer, b"".join(body)


raw_headers = st.lists(
    st.tuples(
        st.sampled_from([name.lower().encode() for name in HEADER_NAMES]),
        st.binary(max_size=40) | st.sampled_from([b"Bearer " + PLANTED.encode(), b"abc"]),
    ),
    max_size=4,
)


async def send_raw(headers: list[tuple[bytes, bytes]], chunks: list[bytes], endpoint: str):
    before = await UpstreamExchange.objects.acount()
    status, answer, body = await over_asgi(
        ApiBodyLimit(ASGIHandler()), f"/api/realtime/{endpoint}", headers, chunks
    )
    assert_api_answer(status, answer, body)
    assert await UpstreamExchange.objects.acount() == before + 1
    return status


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hostile_settings")
@settings(HYPOTHESIS, max_examples=60)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    headers=raw_headers,
    chunks=st.lists(st.binary(max_size=200) | st.just(filler(40_000)), max_size=4),
)
@example(endpoint="handshake", headers=[(b"authorization", b"Bearer ek_\xe9\xff")], chunks=[])
@example(endpoint="client-secret", headers=[(b"content-type", b"text/\xff")], chunks=[b"{}"])
def test_raw_header_bytes_and_chunked_bodies_get_json_and_leave_one_row(endpoint, headers, chunks):
    asyncio.run(send_raw(headers, chunks, endpoint))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hostile_settings")
@pytest.mark.parametrize("app", [ASGIHandler, lambda: ApiBodyLimit(ASGIHandler())])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_chunked_body_past_the_limit_with_no_declared_length_is_refused_with_413(
    app, endpoint
):
    chunks = [b" " * 65536] * 32  # 2 MiB, and no Content-Length
    kind = b"application/sdp" if endpoint == "handshake" else b"application/json"

    status, _, body = await over_asgi(
        app(), f"/api/realtime/{endpoint}", [(b"content-type", kind)], chunks
    )

    assert (status, json.loads(body)["error"]["code"]) == (413, "request_too_large")
    assert (await UpstreamExchange.objects.aget()).error_code == "request_too_large"


# --- a real daphne, over raw sockets ------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_daphne(emulator, tmp_path_factory, unused_tcp_port_factory) -> Iterator[Server]:
    env = project_env(tmp_path_factory.mktemp("hostile") / "db.sqlite3", emulator.base_url)
    server = run_daphne(env, unused_tcp_port_factory(), DEBUG="true", REALTIME_RATE_LIMIT="0")
    yield server
    server.kill()


def over_socket(server: Server, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; return the answer's status, headers and body."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        headers = {name.lower(): value for name, value in answer.getheaders()}
        return answer.status, headers, answer.read()


def http_request(
    endpoint: str, agent: str, headers: list[bytes], body: bytes, *, chunked: bool
) -> bytes:
    """A POST with ``headers`` (a Host among them replaces ours), its body declared or
    chunked."""
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body)
    if chunked:
        pieces = [body[start : start + 65536] for start in range(0, len(body), 65536)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    hosts = [line for line in headers if line.lower().startswith(b"host:")]
    lines = [
        f"POST /api/realtime/{endpoint} HTTP/1.1".encode(),
        hosts[0] if hosts else b"Host: 127.0.0.1",
        b"Connection: close",
        f"User-Agent: {agent}".encode(),
        framing,
        *(line for line in headers if line not in hosts),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def rows_of(server: Server, agent: str) -> int:
    query = "select count(*) as n from realtime_upstreamexchange where user_agent = ?"
    return server.rows(query, agent)[0]["n"]


# Header bytes daphne passes on to the application: not NUL or the line breaks that end a
# header (Twisted answers a bare 400 itself), nor those daphne refuses with an HTML 400 of
# its own or that make Twisted drop the connection unanswered (the other line breaks of
# Python's str.splitlines).
header_values = st.binary(max_size=40).map(
    lambda value: value.translate(None, b"\x00\r\n\x0b\x0c\x1c\x1d\x1e\x85")
)
socket_headers = st.lists(
    st.sampled_from(
        [b"Authorization", b"Host", b"X-Forwarded-For", b"Content-Type", b"Cookie"]
    ).flatmap(lambda name: header_values.map(lambda value: name + b": " + value)),
    max_size=3,
)


@settings(HYPOTHESIS, max_examples=25)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    headers=socket_headers,
    body=st.binary(max_size=200) | st.just(filler(2 * 1024 * 1024)),
    chunked=st.booleans(),
)
@example(
    endpoint="handshake",
    headers=[b"Authorization: Bearer ek_\xe9\xff"],
    body=b"v=0\r\n",
    chunked=False,
)
@example(endpoint="client-secret", headers=[b"Host: evil.example"], body=b"{}", chunked=False)
@example(  # refused by OpenAI (the emulator), whose answer passes through
    endpoint="handshake",
    headers=[b"Authorization: Bearer " + PLANTED.encode(), b"Content-Type: application/sdp"],
    body=b"v=0\r\n",
    chunked=False,
)
@example(endpoint="hangup", headers=[b"Host: \xe9\xff"], body=b"{}", chunked=True)
@example(endpoint="client-secret", headers=[], body=filler(2 * 1024 * 1024, b" "), chunked=True)
@example(endpoint="handshake", headers=[b"X-Forwarded-For: \xff, junk"], body=b"v=0", chunked=True)
def test_daphne_answers_hostile_bytes_in_json_and_records_each(
    hostile_daphne, endpoint, headers, body, chunked
):
    agent = f"hostile-{uuid.uuid4()}"

    status, answer, content = over_socket(
        hostile_daphne, http_request(endpoint, agent, headers, body, chunked=chunked)
    )

    assert_api_answer(status, answer, content)
    assert rows_of(hostile_daphne, agent) == 1


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_daphne_refuses_a_body_past_the_limit_with_413_however_it_is_framed(
    hostile_daphne, endpoint, chunked
):
    agent = f"oversized-{uuid.uuid4()}"
    kind = b"application/sdp" if endpoint == "handshake" else b"application/json"
    body = filler(2 * 1024 * 1024, b" ")

    status, _, content = over_socket(
        hostile_daphne,
        http_request(endpoint, agent, [b"Content-Type: " + kind], body, chunked=chunked),
    )

    assert (status, json.loads(content)["error"]["code"]) == (413, "request_too_large")
    assert rows_of(hostile_daphne, agent) == 1
