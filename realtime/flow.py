"""Flow control between the WebSocket proxy and the ASGI server that carries its client.

ASGI has no backpressure of its own: a server either applies it inside ``receive`` and
``send`` (uvicorn: ``send`` waits for the socket to drain, ``receive`` reads only when
asked) or buffers without bound (daphne queues every incoming frame and writes every
outgoing one into Twisted's buffer at once; it also drops close reasons). For daphne the
proxy reaches the Twisted transport under the connection and uses Twisted's own producer
API: it stops reading from a client while the frames it already read wait unprocessed or
while OpenAI is not taking data, and learns when a client stops reading so it can stop
reading from OpenAI in turn. It also sets that connection's own WebSocket limits above the
proxy's (daphne's are 1 MiB for every connection) and turns what the WebSocket layer would
answer with a dropped connection (a message over its limit, invalid UTF-8, a protocol
violation) into a call to the proxy, which ends the session with its own code and event.

``FlowControlMiddleware`` (outermost in the ASGI stack, where ``send`` is still the
server's own) lets ``client_flow(scope)`` make a ``ClientFlow``; the consumer uses only
that interface.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

SCOPE_KEY = "realtime.flow"
# Frames read from a client but not yet taken by the consumer: past the high mark the
# server stops reading that client; below the low mark it reads again.
INBOUND_HIGH_FRAMES = 16
INBOUND_LOW_FRAMES = 4
# How far the WebSocket layer's own message limit stands above the proxy's, so that a
# message just over the proxy's limit reaches the proxy, which answers it.
FRAME_LIMIT_MARGIN = 64 * 1024

# What the WebSocket layer reports: the close code it would have sent, and why.
BrokenFrame = Callable[[int, str], None]


class ClientFlow:
    """A server that applies backpressure and its own limits itself: little to do."""

    def __init__(self) -> None:
        self._closed = asyncio.Event()

    def pause_reading(self) -> None:
        """Stop reading the client's frames (its TCP window closes): OpenAI is not taking
        data."""

    def resume_reading(self) -> None:
        """Read the client's frames again: OpenAI takes data again."""

    def frame_taken(self) -> None:
        """The consumer took a frame: the server may read more once it has few left."""

    @property
    def client_reading(self) -> bool:
        """False while the client's socket buffer is full (the client is not reading)."""
        return True

    async def wait_client_reading(self) -> None:
        """Return once the client is reading again."""

    def close(self, code: int, reason: str) -> bool:
        """Close the client with a reason if the server's ASGI close would drop it; True if
        done here, False to send ``websocket.close`` as usual."""
        return False

    def watch_frames(self, max_bytes: int, on_broken: BrokenFrame) -> None:
        """Let messages of up to ``max_bytes`` (and a margin) through, and call
        ``on_broken`` instead of dropping the connection on a frame the WebSocket layer
        refuses. Here the server keeps its own limits (uvicorn: ``--ws-max-size``)."""

    def note_closed(self) -> None:
        """The consumer heard ``websocket.disconnect``: the client's connection is closed."""
        self._closed.set()

    async def wait_closed(self) -> None:
        """Return once the client's connection is closed."""
        await self._closed.wait()

    def release(self) -> None:
        """Detach from the connection at the end of the session."""


class TwistedClientFlow(ClientFlow):
    """daphne: drive the connection's Twisted transport, a streaming producer/consumer.

    Registered as the transport's producer, Twisted calls ``pauseProducing`` when its write
    buffer passes its limit (64 KiB) and ``resumeProducing`` once it drains. daphne also
    drops the reason of an ASGI ``websocket.close``; closing through its protocol keeps it.
    """

    def __init__(self, protocol: Any, inbound: asyncio.Queue[Any] | None) -> None:
        super().__init__()
        self._protocol = protocol
        self._transport = transport = protocol.transport
        self._writable = asyncio.Event()
        self._writable.set()
        self._pauses: set[str] = set()  # why reading is paused: "upstream", "backlog", "broken"
        self._inbound = inbound
        if inbound is not None:
            self._watch_inbound(inbound)
        self._registered = False
        # daphne upgrades from Twisted's HTTPChannel, which stays registered as the
        # transport's producer though the transport now feeds the WebSocket protocol; it is
        # safe to replace.
        previous = getattr(transport, "producer", None)
        if previous is not None and previous is not getattr(transport, "protocol", previous):
            transport.unregisterProducer()
        try:
            transport.registerProducer(self, True)
            self._registered = True
        except RuntimeError:
            pass

    # Twisted's IPushProducer, called when the write buffer fills and drains.
    def pauseProducing(self) -> None:
        self._writable.clear()

    def resumeProducing(self) -> None:
        self._writable.set()

    def stopProducing(self) -> None:
        self._writable.set()  # the connection is gone: wake any waiter

    def _watch_inbound(self, inbound: asyncio.Queue[Any]) -> None:
        # daphne puts each frame it reads into this queue, unbounded; checking its depth at
        # each put is the one place that sees every frame as it arrives.
        put = inbound.put_nowait

        def put_and_check(message: Any) -> None:
            put(message)
            if inbound.qsize() >= INBOUND_HIGH_FRAMES:
                self._pause("backlog")
            # Seen here even when no consumer reads any more (a server may cancel its
            # applications as it stops): a drain waits for the client's close this way.
            if message["type"] == "websocket.disconnect":
                self._closed.set()

        inbound.put_nowait = put_and_check  # type: ignore[method-assign]

    def frame_taken(self) -> None:
        if (
            "backlog" in self._pauses
            and self._inbound is not None
            and self._inbound.qsize() <= INBOUND_LOW_FRAMES
        ):
            self._resume("backlog")

    def pause_reading(self) -> None:
        self._pause("upstream")

    def resume_reading(self) -> None:
        self._resume("upstream")

    def _pause(self, reason: str) -> None:
        if not self._pauses:
            self._transport.pauseProducing()
        self._pauses.add(reason)

    def _resume(self, reason: str) -> None:
        if reason in self._pauses:
            self._pauses.discard(reason)
            if not self._pauses:
                self._transport.resumeProducing()

    @property
    def client_reading(self) -> bool:
        return self._writable.is_set()

    async def wait_client_reading(self) -> None:
        await self._writable.wait()

    def close(self, code: int, reason: str) -> bool:
        self._protocol.sendClose(code=code, reason=reason)
        return True

    def watch_frames(self, max_bytes: int, on_broken: BrokenFrame) -> None:
        protocol = self._protocol
        if not hasattr(protocol, "_fail_connection"):
            return  # an Autobahn without the hook: its own limits and closes stand
        # Autobahn copied daphne's limits (1 MiB) to this protocol as it connected.
        protocol.maxMessagePayloadSize = protocol.maxFramePayloadSize = (
            max_bytes + FRAME_LIMIT_MARGIN
        )
        refused = False

        def refuse(code: int = 1000, reason: str = "") -> None:
            # Autobahn calls this on a message over its limit (1009), invalid UTF-8 (1007)
            # or a protocol violation (1002), and would drop the connection (1006).
            nonlocal refused
            if refused:
                return
            refused = True
            protocol.failedByMe = True  # Autobahn keeps and delivers nothing more of it
            if code != 1009:
                # Past a violation the stream cannot be parsed: read no more of it. The
                # close handshake then times out, and Autobahn drops the connection.
                self._pause("broken")
            on_broken(code, reason)

        protocol._fail_connection = refuse

    def release(self) -> None:
        if self._pauses:
            self._pauses.clear()
            self._transport.resumeProducing()
        if self._registered:
            self._registered = False
            self._transport.unregisterProducer()
        self._writable.set()


def client_flow_for(receive: Any, send: Any) -> ClientFlow:
    """The flow control for a connection, judged from the server's callables."""
    protocol = _daphne_protocol(send)
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(transport, "registerProducer"):
        return ClientFlow()
    # daphne's receive is its connection queue's bound get().
    inbound = getattr(receive, "__self__", None)
    return TwistedClientFlow(protocol, inbound if isinstance(inbound, asyncio.Queue) else None)


def _daphne_protocol(send: Any) -> Any:
    # daphne passes functools.partial(server.handle_reply, protocol) as send.
    if not isinstance(send, functools.partial) or not send.args:
        return None
    owner = getattr(send.func, "__self__", None)
    if not type(owner).__module__.startswith("daphne."):
        return None
    return send.args[0]


class FlowControlMiddleware:
    """Let every WebSocket connection make its ``ClientFlow`` (``client_flow(scope)``)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and SCOPE_KEY not in scope:
            scope = {**scope, SCOPE_KEY: functools.partial(client_flow_for, receive, send)}
        await self.application(scope, receive, send)


def client_flow(scope: dict[str, Any]) -> ClientFlow:
    """The connection's flow control; call once per connection."""
    make = scope.get(SCOPE_KEY)
    return make() if make is not None else ClientFlow()
