"""A fake systemd notify socket: an AF_UNIX datagram socket a test reads."""

from __future__ import annotations

import socket
import time
from pathlib import Path


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, str]] = []

    def receive(self, seconds: float) -> list[str]:
        """Every datagram that arrives within ``seconds`` (also kept in ``messages``)."""
        got: list[str] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            got.append(data)
            self.messages.append((time.monotonic(), data))
        return got

    def wait_for(self, line: str, seconds: float) -> list[str]:
        """Datagrams up to and including the first one holding ``line``."""
        got: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for data in self.receive(min(0.2, deadline - time.monotonic())):
                got.append(data)
                if line in data.splitlines():
                    return got
        raise AssertionError(f"no {line!r} within {seconds} s; got {got}")

    def close(self) -> None:
        self.sock.close()


def lines(datagrams: list[str], key: str) -> list[str]:
    return [line for d in datagrams for line in d.splitlines() if line.startswith(key)]
