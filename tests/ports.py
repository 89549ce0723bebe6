"""Free loopback ports for the servers and processes tests start."""

import socket

# The main job's default ports and the shared PostgreSQL cluster: someone else may be using them.
RESERVED_PORTS = frozenset({5432, 7233, 8000, 8233})


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's pick), never one of RESERVED_PORTS."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port
