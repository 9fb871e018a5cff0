"""realtime.emulator.loopback: a client on this machine is answered, and reached, on
127.0.0.1 only, with no ICE server asked; any other client on the network interfaces."""

from collections.abc import AsyncIterator

import pytest
from aioice import stun
from aioice.ice import get_host_addresses

from realtime.emulator import loopback
from realtime.emulator.peer import CallPeer
from tests.support.webrtc_client import WebRTCClient

MEDIA = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
CANDIDATE = "a=candidate:1 1 udp 2130706431 {} 50000 typ host"


def candidate_hosts(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def as_trickled(sdp: str) -> str:
    """Return the offer as a browser sends it before gathering: no candidates, and more to
    come (no end-of-candidates)."""
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )


async def nothing(*_: object) -> None:
    pass


class Socket:
    """Stands in for one of aioice's sockets: records where each STUN answer would go."""

    def __init__(self) -> None:
        self.answered: list[tuple[str, int]] = []

    def send_stun(self, message: stun.Message, addr: tuple[str, int]) -> None:
        self.answered.append(addr)


@pytest.fixture
async def peer() -> AsyncIterator[CallPeer]:
    peer = CallPeer(on_channel=nothing, on_audio=nothing, on_drained=nothing, on_closed=nothing)
    yield peer
    await peer.close()


@pytest.fixture
async def client() -> AsyncIterator[WebRTCClient]:
    client = WebRTCClient()
    yield client
    await client.close()


@pytest.mark.parametrize(
    ("address", "on_this_machine"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("192.168.1.20", False),
        ("fd00::2", False),
        ("5b3c1a9e-8f4d-4c51-9d1e-2a7f0c6b1e44.local", False),
    ],
)
def test_a_client_with_a_loopback_candidate_is_on_this_machine(address, on_this_machine):
    offer = f"{MEDIA}{CANDIDATE.format(address)}\r\n"

    assert loopback.offers_loopback(offer) is on_this_machine


def test_an_offer_without_candidates_is_not_from_a_loopback_client():
    assert not loopback.offers_loopback(MEDIA)


def test_only_the_loopback_candidates_of_an_offer_are_kept():
    lines = [
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        CANDIDATE.format("127.0.0.1"),
        CANDIDATE.format("192.168.1.20"),
        CANDIDATE.format("::1"),
        "a=end-of-candidates",
    ]

    kept = loopback.loopback_candidates("\r\n".join(lines) + "\r\n")

    assert kept.splitlines() == [lines[0], lines[1], lines[3], lines[4]]


async def test_a_loopback_client_offers_only_a_loopback_candidate_and_asks_no_stun(client):
    offer = await client.offer()

    assert candidate_hosts(offer) == {"127.0.0.1"}
    connections = loopback.ice_connections(client.peer)  # audio and events, until bundled
    assert [(c.stun_server, c.turn_server) for c in connections] == [(None, None)] * 2


async def test_the_emulator_answers_a_loopback_client_on_loopback_without_stun(peer, client):
    answer = await peer.answer(await client.offer())

    assert candidate_hosts(answer) == {"127.0.0.1"}
    connections = loopback.ice_connections(peer.connection)
    assert [(c.stun_server, c.turn_server) for c in connections] == [(None, None)]


async def test_the_emulator_answers_any_other_client_on_the_network_interfaces(peer, client):
    # Nothing in a trickled offer shows that the client is on this machine.
    answer = await peer.answer(as_trickled(await client.offer()))

    assert candidate_hosts(answer) == set(get_host_addresses(use_ipv4=True, use_ipv6=True))
    assert "127.0.0.1" not in candidate_hosts(answer)


async def test_a_loopback_peer_answers_connectivity_checks_from_loopback_only(client):
    await client.offer()
    connection = loopback.ice_connections(client.peer)[0]
    check = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    check.attributes["USERNAME"] = f"{connection.local_username}:them"
    check.add_message_integrity(connection.local_password.encode())
    socket = Socket()

    connection.request_received(check, ("192.168.1.20", 50000), socket)
    connection.request_received(check, ("127.0.0.1", 50000), socket)

    assert socket.answered == [("127.0.0.1", 50000)]
