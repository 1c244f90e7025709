"""A TCP port on loopback (bound to port 0) that forwards each connection to a unix socket.

Mosquitto 2.0 takes ``listener 0 PATH`` as a unix socket, not "any free port",
and ``vending run`` speaks TCP: this relay lets a test's broker listen where no
port was picked ahead of time.  Threads, bytes forwarded unchanged both ways.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from pathlib import Path


class TcpToUnix:
    """Accepts on ``127.0.0.1:port`` and pipes each connection to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            self._open.update((client, upstream))
        try:
            upstream.connect(str(self.path))
            other = {client: upstream, upstream: client}
            with selectors.DefaultSelector() as selector:
                for end in other:
                    selector.register(end, selectors.EVENT_READ)
                while True:
                    for key, _ in selector.select():
                        end: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = end.recv(65536)
                        if not data:
                            return
                        other[end].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._open.difference_update((client, upstream))
            for end in (client, upstream):
                with contextlib.suppress(OSError):
                    end.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._server.close()
        with self._lock:
            ends = list(self._open)
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
