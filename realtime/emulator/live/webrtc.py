"""Start a Live session on a WebRTC call: the realtime emulator's aiortc peer, Live's events.

The call is answered by :class:`~realtime.emulator.peer.CallPeer`, loopback handling
included. Its events travel on the ``oai-events`` data channel the client creates (the
label the JS SDK's ``OpenAILiveWebRTC`` uses; the Python SDK and the reference name none),
where the session greets it with ``session.started`` as soon as it opens: a WebRTC client
never sends ``session.start``. The microphone feeds the session's timeline and the model's
voice plays on the call's track.

How the call ends names the session's end: a hangup or ``session.close`` is
``close_requested``; the client closing its peer is ``remote_hangup``; a call that fails
(ICE or DTLS) or never connects is ``connection_lost``.
"""

from __future__ import annotations

from typing import Any

from realtime.emulator.channel import DataChannelOutput
from realtime.emulator.errors import ApiError
from realtime.emulator.live.connection import Connection, register
from realtime.emulator.live.session import LiveSession
from realtime.emulator.peer import CallPeer
from realtime.emulator.state import Emulator


async def start_webrtc_session(emulator: Emulator, resource: dict[str, Any], offer: str) -> str:
    """Answer ``offer`` for a new session with ``resource``; return the SDP answer."""
    session: LiveSession
    reached = {"connected": False, "failed": False}

    def note_state() -> None:
        state = peer.connection.connectionState
        if state in reached:
            reached[state] = True

    async def on_channel(channel: Any) -> None:
        connection = Connection(session, "datachannel")
        connection.output = DataChannelOutput(channel, connection)
        session.attach(connection)
        await session.greet(connection)

    async def on_closed() -> None:
        lost = reached["failed"] or not reached["connected"]
        await session.end("connection_lost" if lost else "remote_hangup")

    async def on_drained() -> None:
        return None  # Live has no playback events: the track simply goes quiet

    peer = CallPeer(
        on_channel=on_channel,
        on_audio=lambda pcm: session.feed_audio(pcm),
        on_drained=on_drained,
        on_closed=on_closed,
    )
    # A listener of our own sees "failed" before CallPeer's closes the connection.
    peer.connection.on("connectionstatechange", note_state)
    session = LiveSession(
        resource,
        transport="webrtc",
        settings=emulator.settings,
        audio_sink=peer.track,
        heard=emulator.live_heard,
    )
    register(emulator, session)
    session.on_close.append(peer.close)  # a hangup, a close or expiry ends the call
    try:
        return await peer.answer(offer)
    except Exception as error:  # aiortc rejects offers with a variety of exceptions
        await peer.close()
        raise ApiError(
            f"Invalid SDP offer: {error}", code="invalid_offer", param="transport.sdp"
        ) from None
