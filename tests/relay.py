"""A plain TCP relay for tests: what ``ssh -R``, stunnel or haproxy in TCP mode put in front of a server.

Why: such a relay adds no forwarding header, so the server sees a loopback peer; listening on 127.0.0.2 and
reached by a public-looking name (Chromium's ``--host-resolver-rules="MAP fer.example 127.0.0.2"``), it makes a
remote visitor without leaving the machine.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

RELAY_HOST = "127.0.0.2"


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _serve(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # closed: the relay is over
            return
        try:
            upstream = socket.create_connection(target)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


@contextlib.contextmanager
def tcp_relay(target_port: int, target_host: str = "127.0.0.1", host: str = RELAY_HOST) -> Iterator[int]:
    """Relay ``host:<free port>`` to ``target_host:target_port`` while the block runs; yields the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(64)
    threading.Thread(target=_serve, args=(listener, (target_host, target_port)), daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
