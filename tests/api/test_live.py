"""The live sockets of the pages: what the machine's event stream makes them send.

The events are published straight onto ``machine.stream``, as the machine
does, so these tests pin the hub's side of the contract (api/live.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.live import SOCKETS_KEY
from api.routing import MACHINE_KEY
from tests.api.conftest import FAKE_ONLY, Account, error_of, make_account
from tests.api.fake_machine import FakeMachine

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30),
              pytest.mark.skipif(FAKE_ONLY, reason="the live sockets follow the real machine")]
QUIET_S = 0.3


def origin(client: TestClient[Any, Any]) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def next_of(ws: Any, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The next message of ``kind`` (the machine may publish its own changes meanwhile)."""
    while True:
        message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), timeout_s)
        if message["type"] == kind:
            return message


async def nothing_more(ws: Any, kind: str) -> bool:
    try:
        await next_of(ws, kind, QUIET_S)
    except TimeoutError:
        return True
    return False


async def test_panel_socket_sends_a_snapshot_then_each_change(
        client: TestClient[Any, Any], app: web.Application) -> None:
    stream = app[MACHINE_KEY].stream
    async with client.ws_connect("/live/panel", headers=origin(client)) as ws:
        snapshot = await next_of(ws, "snapshot")
        assert len(snapshot["machine"]["slots"]) == 24
        assert [c["coin"] for c in snapshot["machine"]["coins"]] == [5, 10, 20, 50, 100]
        assert set(snapshot["sim"]) == {"display", "tray", "returned", "state"}
        assert "events" not in snapshot

        stream.publish("display", lines=["CREDIT 1.00", "SELECT ITEM"])
        assert (await next_of(ws, "display"))["lines"] == ["CREDIT 1.00", "SELECT ITEM"]
        stream.publish("stock", slot="A1")
        assert len((await next_of(ws, "machine"))["machine"]["slots"]) == 24
        stream.publish("world")
        assert (await next_of(ws, "world"))["sim"]["tray"] == []
        stream.publish("inventory")
        assert len((await next_of(ws, "machine"))["machine"]["coins"]) == 5


async def test_a_burst_of_changes_is_read_once(client: TestClient[Any, Any],
                                               app: web.Application) -> None:
    stream = app[MACHINE_KEY].stream
    async with client.ws_connect("/live/panel", headers=origin(client)) as ws:
        await next_of(ws, "snapshot")
        for _ in range(50):
            stream.publish("stock", slot="A1")
        await next_of(ws, "machine")
        assert await nothing_more(ws, "machine")


async def test_a_page_that_fell_behind_gets_a_new_snapshot(client: TestClient[Any, Any],
                                                           app: web.Application) -> None:
    stream = app[MACHINE_KEY].stream
    async with client.ws_connect("/live/panel", headers=origin(client)) as ws:
        await next_of(ws, "snapshot")
        for n in range(1500):  # more than a subscriber's queue holds
            stream.publish("display", lines=[f"LINE {n}", ""])
        snapshot = await next_of(ws, "snapshot")
        assert len(snapshot["machine"]["slots"]) == 24


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://evil.example"},
                                     {"Origin": "null"}, {"Origin": "http://127.0.0.1:1"}])
@pytest.mark.parametrize("path", ["/live/panel", "/live/console"])
async def test_a_socket_from_another_origin_is_refused(client: TestClient[Any, Any], path: str,
                                                       headers: dict[str, str]) -> None:
    r = await client.get(path, headers={**headers, "Upgrade": "websocket",
                                        "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status == 403
    assert (await error_of(r))["code"] == "forbidden"


async def test_a_token_in_the_url_is_refused(client: TestClient[Any, Any],
                                             operator: Account) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"/live/console?token={operator.access}", headers=origin(client))
    assert refused.value.status == 400


async def test_too_many_live_pages_are_refused(client: TestClient[Any, Any],
                                               app: web.Application) -> None:
    app[SOCKETS_KEY].limit = 1
    async with client.ws_connect("/live/panel", headers=origin(client)) as ws:
        await next_of(ws, "snapshot")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/live/panel", headers=origin(client))
        assert refused.value.status == 429
    # the place comes back once the server has seen the close: awaited, not slept for
    for _ in range(500):
        try:
            ws = await client.ws_connect("/live/panel", headers=origin(client))
            break
        except aiohttp.WSServerHandshakeError as again:
            assert again.status == 429
            await asyncio.sleep(0.01)
    else:
        raise AssertionError("the closed page's place never came back")
    async with ws:
        await next_of(ws, "snapshot")


# --- the console ---------------------------------------------------------------------------


async def closed_with(ws: Any) -> int:
    message = await asyncio.wait_for(ws.receive(), 5)
    while message.type == aiohttp.WSMsgType.TEXT:
        message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    return int(ws.close_code)


@pytest.mark.parametrize(("hello", "code"), [
    ({"token": "not-a-token"}, 4401),
    ({"token": 5}, 4400),
    ({"token": "x", "user": "alice"}, 4400),
    ("plain text", 4400),
])
async def test_console_socket_needs_a_valid_token_first(client: TestClient[Any, Any],
                                                        hello: Any, code: int) -> None:
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        if isinstance(hello, str):
            await ws.send_str(hello)
        else:
            await ws.send_json(hello)
        assert await closed_with(ws) == code


async def test_console_socket_is_for_operators_only(client: TestClient[Any, Any],
                                                    buyer: Account) -> None:
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": buyer.access})
        assert await closed_with(ws) == 4403


async def test_console_follows_the_machine_and_its_event_log(
        client: TestClient[Any, Any], app: web.Application, operator: Account) -> None:
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        snapshot = await next_of(ws, "snapshot")
        assert "sim" not in snapshot and isinstance(snapshot["events"], list)
        assert snapshot["machine"]["state"] == "idle"
        r = await client.put("/machine/coins/50", json={"payout": 33}, headers=operator.auth)
        assert r.status == 200
        update = await next_of(ws, "machine")
        assert next(c for c in update["machine"]["coins"] if c["coin"] == 50)["payout"] == 33
        events = (await next_of(ws, "events"))["events"]
        assert any(e["data"].get("coin") == 50 for e in events), events
        last = events[-1]["id"]
    # a console that reconnects says where its log stopped and misses nothing
    await client.post("/machine/cashbox/collect", headers=operator.auth)
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access, "after": last})
        rows = (await next_of(ws, "snapshot"))["events"]
        assert rows and all(e["id"] > last for e in rows)


async def test_console_socket_ends_with_the_session(client: TestClient[Any, Any],
                                                    app: web.Application) -> None:
    operator = await make_account(app, "operator")
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        await next_of(ws, "snapshot")
        assert (await client.post("/logout", headers=operator.auth)).status == 204
        assert await closed_with(ws) == 4401


async def test_console_socket_takes_a_refreshed_token(client: TestClient[Any, Any],
                                                      app: web.Application,
                                                      operator: Account) -> None:
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        await next_of(ws, "snapshot")
        r = await client.post("/refresh", json={"refreshToken": operator.refresh})
        await ws.send_json({"token": (await r.json())["accessToken"]})
        app[MACHINE_KEY].stream.publish("state", state="idle", previous="idle")
        await next_of(ws, "machine")  # still open
        await ws.send_json({"token": "forged"})
        assert await closed_with(ws) == 4401


@pytest.fixture
def hardware(tmp_path: Path) -> Iterator[FakeMachine]:
    yield FakeMachine(tmp_path, simulated=False)


async def test_on_hardware_only_the_console_socket_is_there(hardware: FakeMachine) -> None:
    await hardware.start()
    app = create_app(hardware)
    try:
        async with TestClient(TestServer(app)) as client:
            r = await client.get("/live/panel", headers=origin(client))
            assert r.status == 404
            operator = await make_account(app, "operator")
            async with client.ws_connect("/live/console", headers=origin(client)) as ws:
                await ws.send_json({"token": operator.access})
                assert "sim" not in await next_of(ws, "snapshot")
    finally:
        await hardware.close()


async def test_open_sockets_are_closed_when_the_app_stops(hardware: FakeMachine) -> None:
    await hardware.start()
    hardware.simulated = True
    app = create_app(hardware)
    server = TestServer(app)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            base = str(server.make_url("")).rstrip("/")
            ws = await session.ws_connect(f"{base}/live/panel", headers={"Origin": base})
            await next_of(ws, "snapshot")
            closing = asyncio.ensure_future(server.close())
            assert await closed_with(ws) == 1001
            await closing
    finally:
        await hardware.close()


async def test_a_product_change_is_in_the_event_log(client: TestClient[Any, Any],
                                                      seller: Account, operator: Account) -> None:
    r = await client.post("/product", json={"productName": "Gum", "cost": 50,
                                            "amountAvailable": 2, "slot": "C3"},
                          headers=seller.auth)
    product = await r.json()
    async with client.ws_connect("/live/console", headers=origin(client)) as ws:
        await ws.send_json({"token": operator.access})
        await next_of(ws, "snapshot")
        r = await client.put(f"/product/{product['id']}", json={"cost": 70, "amountAvailable": 2},
                             headers=seller.auth)
        assert r.status == 200
        events = (await next_of(ws, "events"))["events"]
        changed = [e for e in events if e["kind"] == "product_changed"]
        assert [e["data"] for e in changed] == [{"product": product["id"], "slot": "C3",
                                                 "by": seller.id, "changes": {"cost": 70}}]


async def test_panel_socket_follows_a_coin_through_the_acceptor(
        client: TestClient[Any, Any], app: web.Application) -> None:
    async with client.ws_connect("/live/panel", headers=origin(client)) as ws:
        await next_of(ws, "snapshot")
        assert (await client.post("/sim/coin", json={"coin": 10})).status == 200
        lcd = credit = False
        while not (lcd and credit):
            message = await asyncio.wait_for(ws.receive_json(), 5)
            lcd = lcd or message.get("lines", [""])[0] == "CREDIT 0.10"
            credit = credit or message.get("machine", {}).get("panelCredit") == 10
