"""HTTP error answers built from the problem table: our own refusals and upstream failures.

Every error answer is JSON ``{"error": {"code", "message", "hint"}}``. Upstream 4xx pass
through with OpenAI's status and error object plus our hint; 5xx, a broken answer or no
connection are 502, a timeout 504 (``realtime.errors`` has the codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

from realtime import upstream
from realtime.errors import failure_message, problem
from realtime.hints import upstream_hint
from realtime.keys import redact, redact_values

# Answers that carry a secret, an SDP answer or a per-request error must not be cached.
NO_STORE = {"Cache-Control": "no-store"}


def error_body(
    code: str, message: str | None = None, *, param: str | None = None, openai: bool = False
) -> dict[str, Any]:
    """Return our error object; a message may quote the request (a content type, a key
    it sent), so anything key-shaped in it is masked.

    ``openai``: in OpenAI's envelope (``type``, ``code``, ``message``, ``param``, then our
    hint), for the endpoints an OpenAI SDK calls: it raises its errors from these fields.
    Elsewhere ``param`` is added only when given.
    """
    found = problem(code)
    error: dict[str, Any] = {"code": code, "message": redact(message or found.message)}
    if openai:
        error = {"type": found.error_type, **error, "param": param}
    elif param is not None:
        error["param"] = param
    error["hint"] = found.hint
    return {"error": error}


def error_response(
    code: str,
    message: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    param: str | None = None,
    openai: bool = False,
) -> JsonResponse:
    """Return our JSON error answer: ``{"error": {"code", "message", "hint"}}`` (see
    ``error_body`` for ``param`` and ``openai``)."""
    body = error_body(code, message, param=param, openai=openai)
    return JsonResponse(body, status=problem(code).status, headers=headers)


@dataclass(frozen=True)
class FailureAnswer:
    """How we answer an upstream failure, and the code we record for it."""

    code: str
    status: int
    body: dict[str, Any]
    summary: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def hint(self) -> str:
        return self.body["error"]["hint"]

    def response(self) -> JsonResponse:
        return JsonResponse(self.body, status=self.status, headers={**NO_STORE, **self.headers})


def answer_upstream_failure(
    error: upstream.UpstreamError, *, ephemeral: bool, openai: bool = False
) -> FailureAnswer:
    """Pass an upstream 4xx through with OpenAI's body and our hint; answer 5xx, a broken
    answer or no connection with 502, a timeout with 504 (``openai``: in OpenAI's envelope,
    see ``error_body``)."""
    code = error.error_code
    if isinstance(error, upstream.UpstreamHTTPError) and error.refused:
        # Redacted: OpenAI masks keys in its messages, but nothing key-shaped leaves here.
        details = (
            redact_values(error.error)
            if error.error is not None
            else {
                "code": f"upstream_{error.status}",
                "message": redact(error.body[:500]) or f"OpenAI answered {error.status}.",
            }
        )
        details["hint"] = upstream_hint(error.error, ephemeral=ephemeral)
        headers = {"Retry-After": error.retry_after} if error.retry_after else {}
        return FailureAnswer(
            code=code,
            status=error.status,
            body={"error": details},
            summary=redact(str(error)),
            headers=headers,
        )
    message = failure_message(error)
    body = error_body(code, message, openai=openai)
    status = problem(code).status
    assert status is not None  # every upstream_* code an HTTP answer uses has one
    return FailureAnswer(
        code=code,
        status=status,
        body=body,
        summary=body["error"]["message"] if message else f"{body['error']['message']} ({error})",
    )
