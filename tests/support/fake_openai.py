"""A loopback HTTP server that plays OpenAI's realtime HTTP endpoints for tests.

By default it answers like the GA service: ``client_secrets`` validates the body's top-level
keys and the server key and mints ``ek_`` secrets; ``calls`` accepts raw SDP with a secret it
minted, or multipart with a server key, and answers 201 with SDP and a ``Location``; JSON
where SDP belongs gets ``unsupported_content_type``. Tests can script the next answers
(statuses, bodies, delays, a connection that hangs) and read what arrived.

Run it alone for the benchmark: ``python -m tests.support.fake_openai --port 8765``.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import email.policy
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ANSWER_SDP = (
    b"v=0\r\n"
    b"o=- 4227147428 1719357865 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 0.0.0.0\r\n"
    b"t=0 0\r\n"
    b"a=group:BUNDLE 0 1\r\n"
    b"a=msid-semantic:WMS *\r\n"
    b"a=fingerprint:sha-256 CA:92:52:51:B4:91:3B:34:DD:9C:0B:FB:76:19:7E:3B:F1:21:0F:32:2C:38:01:"
    b"72:5D:3F:78:C7:5F:8B:C7:36\r\n"
    b"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\n"
    b"a=mid:0\r\n"
    b"a=ice-ufrag:kZ2qkHXX/u11\r\n"
    b"a=ice-pwd:uoD16Di5OGx3VbqgA3ymjEQV2kwiOjw6\r\n"
    b"a=setup:active\r\n"
    b"a=rtcp-mux\r\n"
    b"a=rtpmap:111 opus/48000/2\r\n"
    b"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    b"a=mid:1\r\n"
    b"a=sctp-port:5000\r\n"
)


def openai_error(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass
class Reply:
    """A scripted answer for the next request."""

    status: int = 200
    body: bytes | str | dict = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False  # read the request, then never answer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def multipart(self) -> dict[str, tuple[str, bytes]]:
        """The form parts by name: (content type, payload)."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode() + self.body
        )
        return {
            part.get_param("name", header="content-disposition"): (
                part.get_content_type(),
                part.get_payload(decode=True),
            )
            for part in message.iter_parts()
        }


class FakeOpenAI:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self.secrets: dict[str, float] = {}  # ek_ value -> expiry (unix time)
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget requests and scripts; let any hanging handler go."""
        with self._lock:
            self.received.clear()
            self._script.clear()
            self._released.set()
            self._released = threading.Event()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order, then go back to the defaults."""
        with self._lock:
            self._script.extend(replies)

    def mint(self, ttl: float = 600) -> str:
        value = f"ek_{secrets.token_hex(16)}"
        self.secrets[value] = time.time() + ttl
        return value

    def _next_scripted(self) -> Reply | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def answer(self, request: Received) -> Reply:
        """What the GA service would answer."""
        if request.headers.get("openai-beta"):
            return _beta_disabled()
        auth = request.headers.get("authorization", "")
        bearer = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        if request.method == "POST" and request.path == "/v1/realtime/client_secrets":
            return self._client_secrets(request, bearer)
        if request.method == "POST" and request.path == "/v1/realtime/calls":
            return self._calls(request, bearer)
        if request.path in {"/v1/realtime/sessions", "/v1/realtime"}:
            return _beta_disabled()
        return Reply(
            404,
            openai_error(
                f"Invalid URL ({request.method} {request.path})", "invalid_request_error", None
            ),
        )

    def _client_secrets(self, request: Received, bearer: str) -> Reply:
        if not bearer.startswith("sk-"):
            return _invalid_key(bearer)
        try:
            body = request.json()
        except ValueError:
            return Reply(
                400,
                openai_error(
                    "We could not parse the JSON body of your request.",
                    "invalid_request_error",
                    None,
                ),
            )
        for key in body:
            if key not in {"expires_after", "session"}:
                return Reply(
                    400,
                    openai_error(
                        f"Unknown parameter: '{key}'.",
                        "invalid_request_error",
                        "unknown_parameter",
                        key,
                    ),
                )
        seconds = body.get("expires_after", {}).get("seconds", 600)
        if not 10 <= seconds <= 7200:
            return Reply(
                400,
                openai_error(
                    f"Invalid 'expires_after.seconds': {seconds}.",
                    "invalid_request_error",
                    "integer_above_max_value" if seconds > 7200 else "integer_below_min_value",
                    "expires_after.seconds",
                ),
            )
        session = {
            "type": "realtime",
            "object": "realtime.session",
            "id": f"sess_{secrets.token_hex(10)}",
            "model": "gpt-realtime",
            "expires_at": 0,
            **body.get("session", {}),
        }
        value = self.mint(seconds)
        return Reply(
            200, {"value": value, "expires_at": int(self.secrets[value]), "session": session}
        )

    def _calls(self, request: Received, bearer: str) -> Reply:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "application/sdp":
            if self.secrets.get(bearer, 0) < time.time():
                return _invalid_key(bearer)
        elif content_type == "multipart/form-data":
            if not bearer.startswith("sk-"):
                return _invalid_key(bearer)
        else:
            return Reply(
                400,
                openai_error(
                    f"Unsupported content type: '{content_type}'. This API method only accepts "
                    "'application/sdp' or 'multipart/form-data' requests, but you specified the "
                    f"header 'Content-Type: {content_type}'. Please try again with a supported "
                    "content type.",
                    "invalid_request_error",
                    "unsupported_content_type",
                ),
            )
        call_id = f"rtc_u1_{secrets.token_hex(16)}"
        return Reply(
            201,
            ANSWER_SDP,
            {"Content-Type": "application/sdp", "Location": f"/v1/realtime/calls/{call_id}"},
        )


def _invalid_key(bearer: str) -> Reply:
    masked = f"{bearer[:6]}***{bearer[-4:]}" if len(bearer) > 10 else bearer
    return Reply(
        401,
        openai_error(
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
    )


def _beta_disabled() -> Reply:
    return Reply(
        400,
        openai_error(
            "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
            "invalid_request_error",
            "beta_api_shape_disabled",
        ),
    )


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the pooled client expects
        # Headers and body go out in separate writes; without TCP_NODELAY each answer
        # waits ~40 ms for the peer's delayed ACK.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length),
            )
            with fake._lock:
                fake.received.append(request)
            reply = fake._next_scripted() or fake.answer(request)
            if reply.hang:
                with fake._lock:
                    released = fake._released
                released.wait(60)
                self.close_connection = True
                return
            if reply.delay:
                time.sleep(reply.delay)
            body = reply.body
            headers = dict(reply.headers)
            if isinstance(body, dict):
                body = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                body = body.encode()
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read `received`, not stderr

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    fake = FakeOpenAI(options.host, options.port)
    print(fake.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever()


if __name__ == "__main__":
    main()
