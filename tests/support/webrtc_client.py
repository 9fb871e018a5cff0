"""A WebRTC client for tests, made with aiortc: a microphone that plays chosen audio, the
``oai-events`` data channel, and a recording of the audio the other side sends back."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

from aioice import Connection
from aioice.ice import CandidatePair
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from realtime.emulator import audio, loopback

SILENT_20_MS = b"\0" * (20 * audio.BYTES_PER_MS)


class Microphone(MediaStreamTrack):
    """Plays queued audio in real time, silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._frames: deque = deque()
        self._pts = 0
        self._started: float | None = None

    def say(self, pcm: bytes) -> None:
        self._frames.extend(audio.to_webrtc_frames(pcm, start_pts=0))

    async def recv(self) -> Any:
        if self._started is None:
            self._started = time.monotonic()
        wait = self._started + self._pts / 48_000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = (
            self._frames.popleft()
            if self._frames
            else audio.to_webrtc_frames(SILENT_20_MS, start_pts=0)[0]
        )
        frame.pts = self._pts
        self._pts += frame.samples
        return frame


class WebRTCClient:
    """A call from this machine: no ICE servers, and only a loopback candidate to offer."""

    def __init__(self) -> None:
        self.peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.microphone = Microphone()
        self.channel = self.peer.createDataChannel("oai-events")
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.heard = bytearray()  # the remote audio, internal format
        self.opened = asyncio.Event()
        self.channel_closed = asyncio.Event()
        self.peer.addTrack(self.microphone)
        self.channel.on("open", self.opened.set)
        self.channel.on("close", self.channel_closed.set)
        self.channel.on("message", lambda text: self.events.put_nowait(json.loads(text)))
        self.peer.on("track", self._track)
        self._listener: asyncio.Task | None = None

    def _track(self, track: MediaStreamTrack) -> None:
        async def listen() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                self.heard += audio.from_webrtc_frame(frame)

        self._listener = asyncio.ensure_future(listen())

    async def offer(self) -> str:
        loopback.use_loopback(self.peer)
        await self.peer.setLocalDescription(await self.peer.createOffer())
        return self.peer.localDescription.sdp

    @property
    def ice(self) -> Connection:
        """Return the aioice connection that carries the call, once the answer has bundled
        audio and events onto one."""
        (connection,) = loopback.ice_connections(self.peer)
        return connection

    def selected_pair(self) -> CandidatePair:
        """Return the candidate pair ICE nominated for the call.

        aioice 0.13 has no public accessor for it; ``Connection._nominated`` is the pair
        per component that ``send`` uses.
        """
        return self.ice._nominated[1]

    async def accept(self, answer_sdp: str) -> None:
        await self.peer.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        await asyncio.wait_for(self.opened.wait(), 15)

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def ask(self, text: str, seconds: float = 30) -> list[dict[str, Any]]:
        """Type ``text`` and ask for a response, over the data channel; the events up to
        its ``response.done``."""
        self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        self.send({"type": "response.create"})
        return await self.until("response.done", seconds=seconds)

    async def until(self, event_type: str, seconds: float = 20) -> list[dict[str, Any]]:
        seen = []
        async with asyncio.timeout(seconds):
            while True:
                event = await self.events.get()
                seen.append(event)
                if event["type"] == event_type:
                    return seen

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        await self.peer.close()
