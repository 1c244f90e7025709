"""Live sockets that never log in cannot keep the operator's console out.

The attack as it was seen: sockets to ``/live/console`` that send a WebSocket
ping every few seconds and never a token, from several addresses, holding
every place; and a console left open after its session ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.live import SOCKETS_KEY
from api.routing import AUTH_KEY
from tests.api.conftest import FAKE_ONLY, make_account
from tests.api.test_live import closed_with, next_of, origin

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30),
              pytest.mark.skipif(FAKE_ONLY, reason="the live sockets follow the real machine")]
AUTH_TIMEOUT_S = 0.5
OPERATOR_DESK = "127.0.0.20"


async def socket_from(stack: AsyncExitStack, client: TestClient[Any, Any], address: str
                      ) -> aiohttp.ClientWebSocketResponse:
    """A console socket opened from ``address`` (a neighbour on the LAN)."""
    session = await stack.enter_async_context(aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0))))
    return await stack.enter_async_context(session.ws_connect(
        client.make_url("/live/console"), headers=origin(client), autoping=True))


async def keep_pinging(sockets: list[aiohttp.ClientWebSocketResponse], every_s: float) -> None:
    while True:
        for ws in sockets:
            if not ws.closed:
                await ws.ping()
        await asyncio.sleep(every_s)


@pytest.fixture
def short_auth(app: web.Application) -> web.Application:
    app[SOCKETS_KEY].auth_timeout_s = AUTH_TIMEOUT_S
    return app


@pytest_asyncio.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def test_pings_do_not_extend_the_time_to_authenticate(
        client: TestClient[Any, Any], short_auth: web.Application,
        stack: AsyncExitStack) -> None:
    ws = await socket_from(stack, client, "127.0.0.2")
    started = time.monotonic()
    pinger = asyncio.create_task(keep_pinging([ws], AUTH_TIMEOUT_S / 5))
    try:
        assert await closed_with(ws) == 4401
    finally:
        pinger.cancel()
    assert time.monotonic() - started < AUTH_TIMEOUT_S + 1.0


async def test_unauthenticated_sockets_are_limited_per_address(
        client: TestClient[Any, Any], app: web.Application, stack: AsyncExitStack) -> None:
    share = app[SOCKETS_KEY].per_address
    assert share == 8
    held = [await socket_from(stack, client, "127.0.0.2") for _ in range(share)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await socket_from(stack, client, "127.0.0.2")
    assert refused.value.status == 429
    assert all(not ws.closed for ws in held)
    # another address still opens its own
    await socket_from(stack, client, "127.0.0.3")


async def test_pinging_sockets_of_many_addresses_leave_the_operator_a_slot(
        client: TestClient[Any, Any], app: web.Application, stack: AsyncExitStack) -> None:
    registry = app[SOCKETS_KEY]
    # 64 sockets that never log in, 8 from each of 8 addresses, pinging all along
    squatters = [await socket_from(stack, client, f"127.0.1.{n}")
                 for n in range(1, 9) for _ in range(registry.per_address)]
    assert len(squatters) == registry.limit
    pinger = asyncio.create_task(keep_pinging(squatters, 0.2))
    try:
        operator = await make_account(app, "operator")
        ws = await socket_from(stack, client, OPERATOR_DESK)
        await ws.send_json({"token": operator.access})
        snapshot = await next_of(ws, "snapshot")
        assert snapshot["machine"]["state"] == "idle"
    finally:
        pinger.cancel()


async def test_a_slot_is_taken_only_after_authentication(
        client: TestClient[Any, Any], app: web.Application, stack: AsyncExitStack) -> None:
    app[SOCKETS_KEY].limit = 1
    waiting = await socket_from(stack, client, "127.0.0.2")  # no token yet
    operator = await make_account(app, "operator")
    ws = await socket_from(stack, client, OPERATOR_DESK)
    await ws.send_json({"token": operator.access})
    await next_of(ws, "snapshot")
    # the one slot is the operator's now: the waiting socket cannot take another
    await waiting.send_json({"token": operator.access})
    assert await closed_with(waiting) == 1013


@pytest.mark.parametrize("ending", ["/logout", "/logout/all"])
async def test_the_console_closes_as_soon_as_its_session_ends(
        client: TestClient[Any, Any], app: web.Application, ending: str) -> None:
    operator = await make_account(app, "operator")
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        await next_of(ws, "snapshot")
        started = time.monotonic()
        assert (await client.post(ending, headers=operator.auth)).status in (200, 204)
        assert await closed_with(ws) == 4401
        assert time.monotonic() - started < 1.0


async def test_another_accounts_logout_leaves_the_console_open(
        client: TestClient[Any, Any], app: web.Application) -> None:
    operator, other = await make_account(app, "operator"), await make_account(app, "buyer")
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        await next_of(ws, "snapshot")
        assert (await client.post("/logout", headers=other.auth)).status == 204
        assert (await client.post("/logout/all", headers=other.auth)).status == 401
        r = await client.put("/machine/coins/50", json={"payout": 30}, headers=operator.auth)
        assert r.status == 200
        await next_of(ws, "machine")  # still open and following


async def test_the_console_closes_when_its_token_expires(
        client: TestClient[Any, Any], app: web.Application) -> None:
    app[AUTH_KEY].tokens.access_s = 1
    operator = await make_account(app, "operator")
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        await next_of(ws, "snapshot")
        started = time.monotonic()
        assert await closed_with(ws) == 4401
        assert time.monotonic() - started < 2.5
