"""The API's table of open connections, shared fairly between client addresses.

A connection is *idle* while it waits for a request head: from connecting
until its first head, and on a kept-alive connection from the end of one
answer until the next head (a blank line is not a head: see
``api.serving``).  A connection whose head arrived is *busy* until its
answer is written, and is never closed to make room.

- An address may hold at most ``max_per_address`` connections: one more is
  refused with 429.
- When the table is full, the address holding the most connections that has
  an idle one loses its longest-idle connection to the newcomer (ties: the
  connection idle the longest).  A neighbour that keeps hundreds of
  connections alive with a request now and then therefore makes room for
  the operator, whoever else is connected; only when no connection at all is
  idle is the newcomer refused with 503.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

SERVER_NAME = "vending"
"""The ``Server`` header: no product versions for a scanner to match against."""


def error_bytes(status: int, reason: str, code: str, message: str,
                retry_after_s: int | None = None) -> bytes:
    """A complete HTTP/1.1 error answer in the API's shape, written straight to a socket."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}", f"Server: {SERVER_NAME}", "Connection: close"]
    if retry_after_s is not None:
        head.append(f"Retry-After: {retry_after_s}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Connection(Protocol):
    """What the table needs of a connection: a way to close it when it is idle."""

    def close_idle(self, why: str) -> None: ...


@dataclass
class ConnectionGuard:
    """Counts open connections, in total and per client address, and knows the idle ones."""

    max_connections: int
    max_per_address: int
    open_by_address: dict[str, int] = field(default_factory=dict)
    idle_by_address: dict[str, OrderedDict[Connection, float]] = field(default_factory=dict)
    total: int = 0
    refused: int = 0
    evicted: int = 0

    def admit(self, conn: Connection, address: str) -> bytes | None:
        """Take the connection in (None, and idle), or the answer that refuses it."""
        if self.open_by_address.get(address, 0) >= self.max_per_address:
            self.refused += 1
            return error_bytes(429, "Too Many Requests", "too_many_attempts",
                               "too many connections from your address", retry_after_s=5)
        if self.total >= self.max_connections and not self._evict_one():
            self.refused += 1
            return error_bytes(503, "Service Unavailable", "out_of_service",
                               "too many connections; try again", retry_after_s=5)
        self.total += 1
        self.open_by_address[address] = self.open_by_address.get(address, 0) + 1
        self.idle(conn, address)
        return None

    def idle(self, conn: Connection, address: str) -> None:
        """``conn`` waits for a request head (again): it may be closed to make room."""
        self.idle_by_address.setdefault(address, OrderedDict())[conn] = time.monotonic()

    def busy(self, conn: Connection, address: str) -> None:
        """A request head of ``conn`` arrived: it is not closed until answered."""
        idle = self.idle_by_address.get(address)
        if idle is not None:
            idle.pop(conn, None)
            if not idle:
                del self.idle_by_address[address]

    def release(self, conn: Connection, address: str) -> None:
        """``conn`` closed."""
        self.busy(conn, address)
        self.total -= 1
        left = self.open_by_address.get(address, 1) - 1
        if left > 0:
            self.open_by_address[address] = left
        else:
            self.open_by_address.pop(address, None)

    def _evict_one(self) -> bool:
        """Close the longest-idle connection of the address holding the most."""
        if not self.idle_by_address:
            return False
        address = max(self.idle_by_address, key=lambda a: (
            self.open_by_address.get(a, 0), -next(iter(self.idle_by_address[a].values()))))
        idle = self.idle_by_address[address]
        victim, _since = idle.popitem(last=False)
        if not idle:
            del self.idle_by_address[address]
        self.evicted += 1
        victim.close_idle("closed to make room for another address")
        return True
