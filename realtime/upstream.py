"""The only module that talks to OpenAI: its realtime HTTP endpoints and its WebSocket
(``realtime.upstream_live`` makes GPT-Live's calls through it).

One pooled ``httpx.AsyncClient`` serves the process, made on first use and closed on
shutdown (``realtime.lifecycle``); ``websockets`` opens one connection per socket. Failures
are a small typed hierarchy whose every kind carries its own code and outcome. With
``REALTIME_EMULATOR`` the same code talks to the in-process emulator
(``realtime.emulator.server``) instead of ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import websockets
from django.views.decorators.debug import sensitive_variables
from websockets.asyncio.client import ClientConnection

from realtime.conf import get_settings

logger = logging.getLogger(__name__)

USER_AGENT = "voiceproject-realtime/0.1"


class UpstreamError(Exception):
    """OpenAI could not give us what we asked for.

    Each kind of failure knows how it is answered and recorded, as httpx's errors know
    their own meaning: ``error_code`` names its problem (``realtime.errors``), ``outcome``
    is the ``realtime.models.Outcome`` its exchange records, and ``public_detail`` says
    whether its own text may be shown to a client (it describes OpenAI's answer, not our
    network). A failure of no more specific kind counts as unreachable.
    """

    error_code: str = "upstream_unreachable"
    outcome: str = "unreachable"
    public_detail: bool = False
    # What OpenAI answered, where it answered at all.
    status: int | None = None
    body: str = ""

    @property
    def refused(self) -> bool:
        """Whether OpenAI refused the request (a 4xx), rather than failing it."""
        return False


class UpstreamHTTPError(UpstreamError):
    """OpenAI answered with an error status."""

    outcome = "upstream_error"
    public_detail = True
    status: int

    def __init__(self, status: int, body: str, headers: Mapping[str, str]) -> None:
        self.status = status
        self.body = body
        self.retry_after = headers.get("retry-after")
        self.error = _parse_error(body)
        super().__init__(f"OpenAI answered {status}: {self.message}")

    @property
    def message(self) -> str:
        return str((self.error or {}).get("message") or self.body[:200])

    @property
    def code(self) -> str:
        """OpenAI's own error code, if its body has one."""
        return str((self.error or {}).get("code") or "")

    @property
    def refused(self) -> bool:
        return self.status < 500

    @property
    def error_code(self) -> str:  # type: ignore[override]
        """A refusal keeps OpenAI's code (or names its status); a 5xx is ours."""
        if self.refused:
            return self.code or f"upstream_{self.status}"
        return "upstream_server_error"


class UpstreamUnreachable(UpstreamError):
    """No connection could be made, or the request could not be sent on it."""


class UpstreamAnswerLost(UpstreamError):
    """The request reached OpenAI, but the connection broke before its answer was complete
    (OpenAI may have acted on it: a call may have started)."""

    error_code = "upstream_answer_lost"
    # realtime.models.Outcome has no "answer lost"; its code tells it apart from no
    # connection at all.
    outcome = "unreachable"


class UpstreamTimeout(UpstreamError):
    """OpenAI did not answer within the configured timeout."""

    error_code = "upstream_timeout"
    outcome = "timeout"


class UpstreamInvalidAnswer(UpstreamError):
    """A success status, but the body is not what the endpoint promises."""

    error_code = "upstream_invalid_answer"
    outcome = "invalid_answer"
    public_detail = True
    status: int

    def __init__(self, status: int, body: str, reason: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"OpenAI answered {status} with {reason}")


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: int
    session: dict[str, Any]
    status: int
    response_bytes: int


@dataclass(frozen=True)
class CallAnswer:
    sdp: bytes
    call_id: str
    location: str
    status: int


_client: httpx.AsyncClient | None = None
_client_loop: asyncio.AbstractEventLoop | None = None


def get_client() -> httpx.AsyncClient:
    """The process's pooled client, bound to the running event loop.

    A server runs one loop for its whole life, so this is one client per process. Pooled
    connections cannot cross event loops, so a new loop (a management command, a test)
    gets a fresh client.
    """
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client_loop is not loop:
        _client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        _client_loop = loop
    return _client


async def aclose() -> None:
    """Close the pooled client (and stop the in-process emulator); the next request makes a
    new one."""
    global _client, _client_loop
    client, loop, _client, _client_loop = _client, _client_loop, None, None
    # A client made on another loop (a sync caller's async_to_sync) cannot be closed from
    # this one; its connections went with its loop.
    if client is not None and loop is asyncio.get_running_loop():
        await client.aclose()
        logger.info("closed the pooled OpenAI HTTP client")
    in_process = sys.modules.get("realtime.emulator.server")
    if in_process is not None:  # loaded only where an emulator can run
        await in_process.stop()


async def base_url() -> str:
    """``OPENAI_BASE_URL``, or the in-process emulator's when it stands in for OpenAI."""
    conf = get_settings()
    if not conf.emulator:
        return conf.openai_base_url
    # Imported here: the emulator's stack is needed only when it is on.
    from realtime.emulator import server

    try:
        return await server.base_url(conf.openai_api_key)
    except OSError as error:
        raise UpstreamUnreachable(f"the in-process emulator did not start: {error}") from error


async def mint_client_secret(session_config: dict[str, Any], ttl: int) -> ClientSecret:
    """``POST /realtime/client_secrets`` with the GA body: ``expires_after`` and ``session``.

    ``model`` goes inside ``session``; at the top level the API rejects it.
    """
    body = {"expires_after": {"anchor": "created_at", "seconds": ttl}, "session": session_config}
    response = await send_request("POST", f"{await base_url()}/realtime/client_secrets", json=body)
    try:
        payload = response.json()
        secret = ClientSecret(
            value=payload["value"],
            expires_at=int(payload["expires_at"]),
            session=payload.get("session") or {},
            status=response.status_code,
            response_bytes=len(response.content),
        )
    except (ValueError, KeyError, TypeError):
        raise UpstreamInvalidAnswer(
            response.status_code, response.text, "no client secret in its body"
        ) from None
    if not secret.value.startswith("ek_"):
        raise UpstreamInvalidAnswer(response.status_code, "", "a value that is not an ek_ secret")
    return secret


@sensitive_variables("secret")
async def create_call(
    offer_sdp: bytes, secret: str | None = None, session_config: dict[str, Any] | None = None
) -> CallAnswer:
    """``POST /realtime/calls?model=…``: the offer in, the SDP answer and call id out.

    Without ``session_config`` the offer goes as raw ``application/sdp`` with the ``ek_``
    ``secret`` (the session was fixed at mint); with it, as ``multipart/form-data`` with
    ``sdp`` and ``session`` parts and the server key unless ``secret`` names another (the
    unified flow). The offer's bytes are forwarded unchanged.
    """
    conf = get_settings()
    model = (session_config or {}).get("model") or conf.model
    url = f"{await base_url()}/realtime/calls"
    request_options: dict[str, Any]
    if session_config is None:
        request_options = {
            "content": offer_sdp,
            "headers": {"Content-Type": "application/sdp", "Accept": "application/sdp"},
        }
    else:
        request_options = {
            "files": {
                "sdp": (None, offer_sdp, "application/sdp"),
                "session": (None, json.dumps(session_config).encode(), "application/json"),
            },
            "headers": {"Accept": "application/sdp"},
        }
    response = await send_request(
        "POST", url, bearer=secret, params={"model": model}, **request_options
    )
    answer = response.content
    if not answer.startswith(b"v="):
        kind = response.headers.get("content-type", "no content type")
        raise UpstreamInvalidAnswer(
            response.status_code, response.text, f"{kind} instead of an SDP answer"
        )
    location = response.headers.get("location", "")
    call_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
    if not call_id:
        logger.warning("OpenAI answered a call without a Location header; call id unknown")
    return CallAnswer(sdp=answer, call_id=call_id, location=location, status=response.status_code)


async def hang_up_call(call_id: str) -> int:
    """``POST /realtime/calls/{call_id}/hangup`` with the server key; OpenAI's status."""
    url = f"{await base_url()}/realtime/calls/{quote(call_id, safe='')}/hangup"
    return (await send_request("POST", url)).status_code


class _Bearer(httpx.Auth):
    """``Authorization: Bearer …`` for one request, behind a repr that hides it: the server
    key is then no bare local of any frame, ours or httpx's, that an error page or report
    would show (httpx's reprs mask the header itself)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._secret}"
        yield request

    def __repr__(self) -> str:
        return "<Bearer [secure]>"


@sensitive_variables("bearer")
async def send_request(
    method: str, url: str, *, bearer: str | None = None, **options: Any
) -> httpx.Response:
    """Send one request with ``bearer`` (None: the server key); raise ``UpstreamError`` for
    an error status or a failure, each kind as it happened."""
    conf = get_settings()
    auth = _Bearer(conf.openai_api_key if bearer is None else bearer)
    timeout = httpx.Timeout(
        connect=conf.connect_timeout,
        read=conf.read_timeout,
        write=conf.read_timeout,
        pool=conf.connect_timeout,
    )
    try:
        response = await get_client().request(method, url, auth=auth, timeout=timeout, **options)
    except httpx.TimeoutException as error:
        raise UpstreamTimeout(f"{type(error).__name__} after the configured timeout") from error
    except (httpx.RemoteProtocolError, httpx.ReadError) as error:
        # Connected and sent: what broke is the answer (cut short, or never begun).
        raise UpstreamAnswerLost(f"{type(error).__name__}: {error}") from error
    except httpx.TransportError as error:
        raise UpstreamUnreachable(f"{type(error).__name__}: {error}") from error
    if response.status_code >= 400:
        raise UpstreamHTTPError(response.status_code, response.text, response.headers)
    return response


def _parse_error(body: str) -> dict[str, Any] | None:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, dict) else None


# OpenAI's events (audio deltas, transcripts, item lists) stay far below this.
UPSTREAM_MAX_FRAME_BYTES = 16 * 1024 * 1024
# Frames read ahead from OpenAI before its TCP window closes: the proxy's buffer toward a
# client that reads slowly is this many frames, not more.
UPSTREAM_READ_AHEAD_FRAMES = 16
# Bytes written toward OpenAI before send() waits for the socket to drain.
UPSTREAM_WRITE_LIMIT = 64 * 1024


class RelaySocket(ClientConnection):
    """A realtime WebSocket that reports when OpenAI stops taking data, and when it resumes,
    so the proxy can stop reading from its client meanwhile."""

    on_backpressure: Callable[[bool], None] | None = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.on_backpressure is not None:
            self.on_backpressure(True)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_backpressure is not None:
            self.on_backpressure(False)


def socket_url(base: str, path: str = "realtime", **query: str) -> str:
    """``wss://…/{path}?{query}`` from the API's base URL (http becomes ws; no query, no ?)."""
    scheme, _, rest = base.partition("://")
    ws_scheme = {"https": "wss", "http": "ws"}[scheme]
    return f"{ws_scheme}://{rest}/{path}" + (f"?{urlencode(query)}" if query else "")


async def open_socket(model: str | None = None, *, call_id: str | None = None) -> RelaySocket:
    """Open a realtime WebSocket session with the server key (GA: no OpenAI-Beta header),
    or, given ``call_id``, the sideband of that WebRTC call.

    The real service answers a bad key or model after the upgrade (an ``error`` event, then
    a close), so success here only means the upgrade happened; it refuses a sideband to a
    call it does not know at the upgrade (404).
    """
    if call_id is not None:
        return await connect_socket(socket_url(await base_url(), call_id=call_id))
    return await connect_socket(socket_url(await base_url(), model=model or get_settings().model))


@sensitive_variables("conf")
async def connect_socket(url: str) -> RelaySocket:
    """Open ``url`` with the server key and the relay's limits, or raise ``UpstreamError``."""
    conf = get_settings()
    try:
        return await websockets.connect(
            url,
            additional_headers={"Authorization": f"Bearer {conf.openai_api_key}"},
            user_agent_header=USER_AGENT,
            open_timeout=conf.connect_timeout,
            close_timeout=1.0,
            # OpenAI's frames are mostly base64 audio: compression costs CPU for little gain.
            compression=None,
            create_connection=RelaySocket,
            max_size=UPSTREAM_MAX_FRAME_BYTES,
            max_queue=UPSTREAM_READ_AHEAD_FRAMES,
            write_limit=UPSTREAM_WRITE_LIMIT,
        )
    except websockets.InvalidStatus as error:
        response = error.response
        body = (response.body or b"").decode("utf-8", "replace")
        if response.status_code < 400:  # answered, but with no upgrade
            raise UpstreamInvalidAnswer(
                response.status_code, body, "no WebSocket upgrade"
            ) from None
        raise UpstreamHTTPError(response.status_code, body, response.headers) from None
    except TimeoutError as error:
        raise UpstreamTimeout("the WebSocket upgrade did not finish in time") from error
    # UnicodeError: a host name the resolver cannot even encode (IDNA), as unreachable as
    # one it cannot find.
    except (OSError, UnicodeError, websockets.InvalidHandshake, websockets.InvalidURI) as error:
        raise UpstreamUnreachable(f"{type(error).__name__}: {error}") from error
