"""A free TCP port on loopback, for servers the tests start outside pytest's fixtures."""

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
