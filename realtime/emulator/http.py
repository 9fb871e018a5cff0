"""Read ASGI requests and write ASGI responses: the emulator's plain HTTP plumbing."""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any
from urllib.parse import parse_qs

from realtime.emulator.errors import ApiError

Scope = dict[str, Any]
Receive = Any
Send = Any


def query_of(scope: Scope) -> dict[str, str]:
    query = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(query).items()}


def headers_of(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def bearer_of(headers: dict[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Request:
    def __init__(self, scope: Scope, body: bytes) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query = query_of(scope)
        self.headers = headers_of(scope)
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def bearer(self) -> str | None:
        return bearer_of(self.headers)


class Response:
    def __init__(
        self,
        status: int,
        body: bytes | str | dict | None = None,
        *,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body)
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode()
        self.body = body or b""
        if content_type:
            self.headers["content-type"] = content_type

    @classmethod
    def error(cls, error: ApiError, headers: dict[str, str] | None = None) -> Response:
        return cls(error.status, error.body(), headers=headers)

    async def send(self, send: Send, *, truncated: bool = False) -> None:
        """Send the answer; ``truncated`` sends half its body and ends, so the server breaks
        the connection short of the declared length, as a dropped network would."""
        headers = [(name.encode(), value.encode()) for name, value in self.headers.items()]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        body = self.body[: len(self.body) // 2] if truncated else self.body
        await send({"type": "http.response.body", "body": body})


def multipart(request: Request) -> dict[str, bytes]:
    """Return the parts of a ``multipart/form-data`` body by name."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.body
    )
    if not message.is_multipart():
        raise ApiError("Could not parse the multipart form body.", code="invalid_multipart")
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[name] = part.get_payload(decode=True) or b""
    return parts
