"""The emulator's listening socket: connections it accepts send each answer at once."""

import socket

from realtime.emulator.server import listen


def test_accepted_connections_send_without_waiting_for_the_clients_ack():
    # asyncio sets TCP_NODELAY on an accepted socket only when it says it is TCP: a plain
    # socket.socket() says 0, and every answer written in two parts (head, then body)
    # waited out the client's delayed ACK, 40 ms a request.
    listener = listen("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()):
        accepted, _ = listener.accept()
        with accepted:
            assert listener.proto == accepted.proto == socket.IPPROTO_TCP
