"""Concurrent requests against the real simulated machine: nothing oversold, no deposit
spent twice, every cent accounted for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from controller.ledger import read_ledger
from tests.api.conftest import Account, error_of, make_account

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def _product(client: TestClient[Any, Any], seller: Account, amount: int) -> int:
    r = await client.post("/product", json={"productName": "Last", "cost": 65,
                                            "amountAvailable": amount}, headers=seller.auth)
    assert r.status == 201, await r.text()
    return int((await r.json())["id"])


async def _deposit(client: TestClient[Any, Any], buyer: Account, coin: int) -> Any:
    return await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)


async def _balanced(app: web.Application) -> None:
    ledger = await app[MACHINE_KEY].store.run(read_ledger)
    assert ledger.balanced, ledger.identities()


async def test_two_buyers_race_for_the_last_item(client: TestClient[Any, Any],
                                                 app: web.Application,
                                                 seller: Account) -> None:
    product = await _product(client, seller, amount=1)
    a = await make_account(app, "buyer")
    b = await make_account(app, "buyer")
    for buyer in (a, b):
        assert (await _deposit(client, buyer, 100)).status == 200
    body = {"productId": product, "amount": 1}
    ra, rb = await asyncio.gather(client.post("/buy", json=body, headers=a.auth),
                                  client.post("/buy", json=body, headers=b.auth))
    statuses = sorted([ra.status, rb.status])
    assert statuses == [200, 409], statuses
    loser = ra if ra.status == 409 else rb
    assert (await error_of(loser))["code"] in ("machine_busy", "out_of_stock")
    r = await client.get(f"/product/{product}")
    assert (await r.json())["amountAvailable"] == 0
    deposits = sorted([(await (await client.get("/user", headers=x.auth)).json())["deposit"]
                       for x in (a, b)])
    assert deposits == [0, 100]  # the winner got change, the loser kept the deposit
    tray = (await (await client.get("/sim/state")).json())["tray"]
    assert tray == ["Last"]
    await _balanced(app)


async def test_buyers_retrying_never_oversell(client: TestClient[Any, Any],
                                             app: web.Application, seller: Account) -> None:
    product = await _product(client, seller, amount=3)
    buyers = [await make_account(app, "buyer") for _ in range(5)]
    for buyer in buyers:
        assert (await _deposit(client, buyer, 100)).status == 200

    async def keep_trying(buyer: Account) -> str:
        for _ in range(200):
            r = await client.post("/buy", json={"productId": product, "amount": 1},
                                  headers=buyer.auth)
            if r.status == 200:
                return "bought"
            code = (await error_of(r))["code"]
            if code != "machine_busy":
                return code
            await asyncio.sleep(0.02)
        return "gave up"

    results = await asyncio.gather(*(keep_trying(b) for b in buyers))
    assert sorted(results) == ["bought"] * 3 + ["out_of_stock"] * 2, results
    tray = (await (await client.get("/sim/state")).json())["tray"]
    assert len(tray) == 3
    await _balanced(app)


async def test_parallel_deposits_all_count_once(client: TestClient[Any, Any],
                                                app: web.Application, buyer: Account) -> None:
    answers = await asyncio.gather(*(_deposit(client, buyer, 50) for _ in range(8)))
    assert all(r.status == 200 for r in answers), [r.status for r in answers]
    r = await client.get("/user", headers=buyer.auth)
    assert (await r.json())["deposit"] == 400
    await _balanced(app)


async def test_buy_and_reset_in_parallel_never_spend_twice(client: TestClient[Any, Any],
                                                           app: web.Application,
                                                           seller: Account,
                                                           buyer: Account) -> None:
    product = await _product(client, seller, amount=5)
    assert (await _deposit(client, buyer, 100)).status == 200
    buy, reset = await asyncio.gather(
        client.post("/buy", json={"productId": product, "amount": 1}, headers=buyer.auth),
        client.post("/reset", headers=buyer.auth))
    paid_back = 0
    spent = 0
    if buy.status == 200:
        body = await buy.json()
        spent = body["totalSpent"]
        paid_back += sum(body["change"])
    if reset.status == 200:
        paid_back += sum((await reset.json())["change"])
    assert spent + paid_back == 100, (buy.status, reset.status, spent, paid_back)
    r = await client.get("/user", headers=buyer.auth)
    assert (await r.json())["deposit"] == 0
    returned = (await (await client.get("/sim/state")).json())["returned"]
    assert sum(returned) == paid_back
    await _balanced(app)
