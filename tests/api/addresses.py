"""Clients on other loopback addresses (127.0.0.2, 127.0.0.3 ...): neighbours on a LAN.

Linux routes the whole 127.0.0.0/8 to the loopback interface, so binding a
client socket's local address to 127.0.0.N makes the server see a different
client address, as it would see different hosts on a LAN.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient


@contextlib.asynccontextmanager
async def neighbour(client: TestClient[Any, Any], address: str,
                    limit: int = 100) -> AsyncIterator[Neighbour]:
    """A client session whose connections come from ``address``."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Neighbour(session, str(client.make_url("")).rstrip("/"))


class Neighbour:
    """Requests to the test server from one source address."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        async with self.session.request(method, self.base + path, json=body,
                                        headers=headers or {}) as r:
            data = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, dict(r.headers), data

    async def login(self, username: str, password: str) -> tuple[int, dict[str, str], Any]:
        return await self.call("POST", "/login", {"username": username, "password": password})


async def gather_status(*calls: Any) -> list[int]:
    return [status for status, _, _ in await asyncio.gather(*calls)]
