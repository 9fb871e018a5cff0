"""WebRTC between two peers on one machine, over its loopback interface.

aioice gathers host candidates from ``get_host_addresses()``, which leaves out 127.0.0.1
and ::1, so two aiortc peers on one machine pair over its network interface and never over
loopback. Neither aiortc's ``RTCConfiguration`` nor aioice's ``Connection`` has a switch for
loopback, but ``Connection.gather_candidates()`` hands the host addresses to the
connection's own ``get_component_candidates(component=…, addresses=…)``, and each socket
hands incoming connectivity checks to the connection's own ``request_received(…)``.
Shadowing those two methods on the connections of one peer is the narrowest hook there is:
it changes only the peers our code asks for and leaves the module function (and every
other peer in the process) alone. The one private name it needs is aiortc's
``RTCIceGatherer._connection``, to reach the aioice connection at all.

Peers that use it are built with ``RTCConfiguration(iceServers=[])``: aiortc's default STUN
server would otherwise still be asked for a server-reflexive candidate.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aioice import Candidate, Connection
from aioice.ice import StunProtocol
from aioice.stun import Message
from aiortc import RTCIceTransport, RTCPeerConnection

LOOPBACK = "127.0.0.1"


def offers_loopback(sdp: str) -> bool:
    """Return whether the session description has a candidate on 127.0.0.1 or ::1.

    A client that offers loopback runs on this machine (an aiortc test client, or Chromium
    started with ``--allow-loopback-in-peer-connection``); a client on the LAN never does.
    """
    return any(
        line.startswith("a=candidate:") and _candidate_is_loopback(line)
        for line in sdp.splitlines()
    )


def use_loopback(peer: RTCPeerConnection) -> None:
    """Keep the peer's ICE on loopback: gather one host candidate per component, on
    127.0.0.1, and ignore connectivity checks that come from anywhere else.

    Call it once the peer has all its transports (after ``addTrack``/``createDataChannel``
    for an offer, after ``setRemoteDescription`` for an answer) and before
    ``setLocalDescription``, which gathers.
    """
    for connection in ice_connections(peer):
        connection.get_component_candidates = _on_loopback(  # type: ignore[method-assign]
            connection.get_component_candidates
        )
        connection.request_received = _from_loopback(  # type: ignore[method-assign]
            connection.request_received
        )


def loopback_candidates(sdp: str) -> str:
    """Return the session description without its candidates off loopback.

    A client on this machine also offers its network interfaces; checks sent there would
    leave loopback for nothing, since our loopback candidate pairs with its loopback one.
    """
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not line.startswith("a=candidate:") or _candidate_is_loopback(line)
    )


def ice_connections(peer: RTCPeerConnection) -> list[Connection]:
    """Return the aioice connection under each of the peer's ICE transports.

    aiortc exposes the transports (``RTCDtlsTransport.transport``) but not the aioice
    ``Connection`` under them, which has the gathering hook and the selected pair.
    """
    transports: list[RTCIceTransport] = [
        transceiver.receiver.transport.transport for transceiver in peer.getTransceivers()
    ]
    if peer.sctp is not None:
        transports.append(peer.sctp.transport.transport)
    unique = {id(transport): transport for transport in transports}
    return [transport.iceGatherer._connection for transport in unique.values()]


def _on_loopback(
    gather: Callable[..., Awaitable[list[Candidate]]],
) -> Callable[..., Awaitable[list[Candidate]]]:
    async def get_component_candidates(
        component: int, addresses: list[str], **options: Any
    ) -> list[Candidate]:
        return await gather(component=component, addresses=[LOOPBACK], **options)

    return get_component_candidates


def _from_loopback(
    receive: Callable[[Message, tuple[str, int], StunProtocol], None],
) -> Callable[[Message, tuple[str, int], StunProtocol], None]:
    # Chromium checks from every interface it has and ranks its loopback network below
    # them (network-cost 50): answered, a check from its interface address wins the pair.
    def request_received(message: Message, addr: tuple[str, int], protocol: StunProtocol) -> None:
        if ipaddress.ip_address(addr[0]).is_loopback:
            receive(message, addr, protocol)

    return request_received


def _candidate_is_loopback(line: str) -> bool:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ …
    fields = line.split()
    if len(fields) < 5:
        return False
    try:
        return ipaddress.ip_address(fields[4]).is_loopback
    except ValueError:  # an mDNS name (….local) hides a host address, never loopback
        return False
