"""What the API answers when the machine or its storage fails, on the real simulated
machine: storage failures, a machine out of service, vends that deliver nothing or
only part of what was bought."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from tests.api.conftest import Account, error_of

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def _product(client: TestClient[Any, Any], seller: Account, amount: int,
                   cost: int = 50) -> dict[str, Any]:
    r = await client.post("/product", json={"productName": "Cola", "cost": cost,
                                            "amountAvailable": amount, "slot": "A1"},
                          headers=seller.auth)
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def _deposit(client: TestClient[Any, Any], buyer: Account, *coins: int) -> None:
    for coin in coins:
        r = await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)
        assert r.status == 200, await r.text()


async def test_a_storage_failure_is_500_store_error_and_changes_nothing(
        client: TestClient[Any, Any], seller: Account, tmp_path: Path) -> None:
    # Another connection makes every product insert fail, as a full disk would.
    with sqlite3.connect(tmp_path / "vending.db") as other:
        other.execute("CREATE TRIGGER full_disk BEFORE INSERT ON products "
                      "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    r = await client.post("/product", json={"productName": "Cola", "cost": 50,
                                            "amountAvailable": 1}, headers=seller.auth)
    assert r.status == 500
    error = await error_of(r)
    assert error["code"] == "store_error"
    assert "storage failed" in error["message"] and "disk" not in error["message"]
    assert await (await client.get("/product")).json() == []
    with sqlite3.connect(tmp_path / "vending.db") as other:
        other.execute("DROP TRIGGER full_disk")
    await _product(client, seller, 1)  # the storage works again: so does the API


async def test_out_of_service_refuses_deposit_and_buy_with_503(
        client: TestClient[Any, Any], app: web.Application, seller: Account,
        buyer: Account) -> None:
    product = await _product(client, seller, 2)
    await _deposit(client, buyer, 50)
    await app[MACHINE_KEY].faults.report("controller board fault: check the log",
                                         device="machine")
    assert (await (await client.get("/health")).json())["state"] == "out_of_service"
    r = await client.post("/deposit", json={"coin": 50}, headers=buyer.auth)
    assert (r.status, (await error_of(r))["code"]) == (503, "out_of_service")
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert (r.status, (await error_of(r))["code"]) == (503, "out_of_service")
    me = await (await client.get("/user", headers=buyer.auth)).json()
    assert me["deposit"] == 50  # nothing taken
    after = await (await client.get(f"/product/{product['id']}")).json()
    assert after["amountAvailable"] == 2


async def test_a_failed_vend_names_the_slot_and_charges_nothing(
        client: TestClient[Any, Any], seller: Account, buyer: Account) -> None:
    product = await _product(client, seller, 3)
    await _deposit(client, buyer, 100)
    await client.post("/sim/fault", json={"device": "slot:A1", "fault": "no_drop"})
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert r.status == 409
    error = await error_of(r)
    assert error["code"] == "out_of_stock"
    assert error["message"] == ("slot A1 failed to vend (no_drop); nothing was charged "
                                "and the deposit is kept")
    me = await (await client.get("/user", headers=buyer.auth)).json()
    assert me["deposit"] == 100
    state = await (await client.get("/sim/state")).json()
    assert state["tray"] == []


async def test_a_multi_unit_buy_that_delivers_part_charges_only_what_was_delivered(
        client: TestClient[Any, Any], app: web.Application, seller: Account,
        buyer: Account) -> None:
    machine = app[MACHINE_KEY]
    product = await _product(client, seller, 5, cost=20)
    await _deposit(client, buyer, 100)
    vends = machine.stream.subscribe(["vend"])

    async def break_the_spiral_after_the_first_drop() -> None:
        event = await vends.get()
        assert event.data["result"] == "paid"
        await machine.sim.inject_fault("slot:A1", "no_drop")

    breaker = asyncio.ensure_future(break_the_spiral_after_the_first_drop())
    r = await client.post("/buy", json={"productId": product["id"], "amount": 3},
                          headers=buyer.auth)
    await breaker
    assert r.status == 200, await r.text()
    body = await r.json()
    assert (body["amount"], body["totalSpent"], body["deposit"]) == (1, 20, 0)
    assert sum(body["change"]) == 80
    assert body["product"]["amountAvailable"] == 4
    state = await (await client.get("/sim/state")).json()
    assert state["tray"] == ["Cola"] and sorted(state["returned"]) == sorted(body["change"])
