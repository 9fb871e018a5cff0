"""The emulator's side of a WebRTC call: a real aiortc peer.

The browser (or any client) creates the ``oai-events`` data channel and sends its
microphone; the peer answers the offer, carries JSON events over that channel, feeds the
microphone to the conversation and plays the reply on its own audio track, in real time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from realtime.emulator import audio, loopback

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "oai-events"
CONNECT_SECONDS = 30  # a call whose client never connects is closed after this
SILENT_20_MS = b"\0" * (20 * audio.BYTES_PER_MS)


class ReplyTrack(MediaStreamTrack):
    """The assistant's voice: queued reply audio in real time, silence between replies."""

    kind = "audio"

    def __init__(self, on_drained: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self._queue: deque[Any] = deque()
        self._pts = 0
        self._started: float | None = None
        self._on_drained = on_drained
        self._was_playing = False
        self._notifications: set[asyncio.Task] = set()

    def play(self, pcm: bytes) -> None:
        self._queue.extend(audio.to_webrtc_frames(pcm, start_pts=0))

    def clear(self) -> bool:
        had_audio = bool(self._queue) or self._was_playing
        self._queue.clear()
        self._was_playing = False
        return had_audio

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        # Pace by the wall clock, one 20 ms frame at a time, as a microphone would.
        if self._started is None:
            self._started = time.monotonic()
        wait = self._started + self._pts / audio.WEBRTC_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self._queue:
            frame = self._queue.popleft()
            self._was_playing = True
        else:
            frame = audio.to_webrtc_frames(SILENT_20_MS, start_pts=0)[0]
            if self._was_playing:
                self._was_playing = False
                task = asyncio.ensure_future(self._on_drained())
                self._notifications.add(task)
                task.add_done_callback(self._notifications.discard)
        frame.pts = self._pts
        self._pts += frame.samples
        return frame


class CallPeer:
    """One WebRTC call: answers the offer and bridges media and events to a conversation."""

    def __init__(
        self,
        *,
        on_channel: Callable[[Any], Awaitable[None]],
        on_audio: Callable[[bytes], Awaitable[None]],
        on_drained: Callable[[], Awaitable[None]],
        on_closed: Callable[[], Awaitable[None]],
    ) -> None:
        # No ICE servers: an offline stand-in is reached on this machine or its LAN, where
        # host candidates suffice, and aiortc's default STUN server would leave the machine.
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = ReplyTrack(on_drained)
        self._on_channel = on_channel
        self._on_audio = on_audio
        self._on_closed = on_closed
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self.connection.on("datachannel", self._datachannel)
        self.connection.on("track", self._track)
        self.connection.on("connectionstatechange", self._state_changed)

    async def answer(self, offer_sdp: str) -> str:
        """Answer the client's offer; the returned SDP carries our candidates.

        A client on this machine (its offer has loopback candidates) is answered, and
        reached, on loopback only; any other client on this machine's network interfaces.
        """
        on_loopback = loopback.offers_loopback(offer_sdp)
        if on_loopback:
            offer_sdp = loopback.loopback_candidates(offer_sdp)
        await self.connection.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        for transceiver in self.connection.getTransceivers():
            if transceiver.kind == "audio":
                transceiver.sender.replaceTrack(self.track)
                transceiver.direction = "sendrecv"
                break
        else:
            self.connection.addTrack(self.track)
        if on_loopback:
            loopback.use_loopback(self.connection)
        await self.connection.setLocalDescription(await self.connection.createAnswer())
        self._spawn(self._close_unless_connected())
        return self.connection.localDescription.sdp

    async def _close_unless_connected(self) -> None:
        await asyncio.sleep(CONNECT_SECONDS)
        if self.connection.connectionState != "connected":
            await self.close()

    def _datachannel(self, channel: Any) -> None:
        if channel.label != EVENTS_CHANNEL:
            channel.close()  # the service speaks only on oai-events
            return
        self._spawn(self._on_channel(channel))

    def _track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._pump(track))

    async def _pump(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            await self._on_audio(audio.from_webrtc_frame(frame))

    async def _state_changed(self) -> None:
        if self.connection.connectionState in {"failed", "closed"}:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        self.track.stop()
        await self.connection.close()
        await self._on_closed()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
