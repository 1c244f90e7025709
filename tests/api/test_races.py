"""Concurrent requests against the real simulated machine: nothing oversold, no deposit
spent twice, every cent accounted for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from controller.ops.ledger import read_ledger
from tests.api.conftest import PASSWORD, Account, error_of, make_account

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


async def test_parallel_deposits_each_count_once(client: TestClient[Any, Any],
                                                 app: web.Application, buyer: Account) -> None:
    """One claim at a time: a deposit sent while another waits is refused, and every
    one that was answered 200 counted once."""
    answers = await asyncio.gather(*(_deposit(client, buyer, 50) for _ in range(8)))
    statuses = [r.status for r in answers]
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    for r in answers:
        if r.status == 409:
            assert (await error_of(r))["code"] == "machine_busy"
    r = await client.get("/user", headers=buyer.auth)
    assert (await r.json())["deposit"] == 50 * statuses.count(200)
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


# --- account and catalog changes against a running sale -----------------------------------


async def _world_matches_store(app: web.Application) -> None:
    """Stock, hoppers and cashbox in the database are the simulated machine's."""
    machine = app[MACHINE_KEY]
    world = machine.sim.simulated_machine.world

    def read(db: Any) -> tuple[dict[str, int], dict[int, tuple[int, int]], int]:
        stock = {r[0]: int(r[1]) for r in db.conn.execute(
            "SELECT slot, amount_available FROM products")}
        coins = {int(r[0]): (int(r[1]), int(r[2])) for r in db.conn.execute(
            "SELECT coin, payout, cashbox FROM coins")}
        pending = db.conn.execute(
            "SELECT (SELECT COUNT(*) FROM vends WHERE status = 'pending') + "
            "(SELECT COUNT(*) FROM payouts WHERE status = 'pending')").fetchone()[0]
        return stock, coins, int(pending)

    stock, coins, pending = await machine.store.run(read)
    assert pending == 0
    for slot in set(stock) | {s for s, items in world.spirals.items() if items}:
        assert stock.get(slot, 0) == len(world.spirals.get(slot, [])), slot
    for coin, (payout, cashbox) in coins.items():
        assert (world.hoppers.get(coin, 0), world.cashbox.get(coin, 0)) == (payout, cashbox)
    await _balanced(app)


async def _when_vending(app: web.Application) -> None:
    for _ in range(400):
        if app[MACHINE_KEY].model.state.value == "vending":
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the vend never started")


async def _failing_buy_under_way(client: TestClient[Any, Any], app: web.Application,
                                 seller: Account, stock: int) -> tuple[Account, int, Any]:
    """A buyer's /buy of slot A1, turning a spiral that will drop nothing."""
    product = await _product(client, seller, amount=stock)
    buyer = await make_account(app, "buyer")
    assert (await _deposit(client, buyer, 100)).status == 200
    await client.post("/sim/fault", json={"device": "slot:A1", "fault": "no_drop"})
    buy = asyncio.ensure_future(client.post("/buy", json={"productId": product, "amount": 1},
                                            headers=buyer.auth))
    await _when_vending(app)
    return buyer, product, buy


async def test_account_deleted_during_its_purchase(client: TestClient[Any, Any],
                                                   app: web.Application,
                                                   seller: Account) -> None:
    product = await _product(client, seller, amount=2)
    await client.put(f"/product/{product}", json={"cost": 50}, headers=seller.auth)
    buyer = await make_account(app, "buyer")
    assert (await _deposit(client, buyer, 50)).status == 200
    buy = asyncio.ensure_future(client.post("/buy", json={"productId": product, "amount": 1},
                                            headers=buyer.auth))
    await _when_vending(app)
    # waits for the sale
    gone = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    r = await buy
    assert r.status == 200 and (await r.json())["totalSpent"] == 50
    assert gone.status == 204
    await _world_matches_store(app)


async def test_account_with_a_failing_purchase_is_not_deleted(client: TestClient[Any, Any],
                                                              app: web.Application,
                                                              seller: Account) -> None:
    buyer, _product_id, buy = await _failing_buy_under_way(client, app, seller, stock=2)
    gone = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    assert (await buy).status == 409  # nothing delivered, nothing charged
    assert gone.status == 409 and (await error_of(gone))["code"] == "deposit_not_empty"
    assert (await (await client.get("/user", headers=buyer.auth)).json())["deposit"] == 100
    await _world_matches_store(app)
    # and the machine still starts on this database (no row of a vanished account)
    await app[MACHINE_KEY].close()
    await app[MACHINE_KEY].start()


@pytest.mark.machine_config(deposit_claim_s=1.0)
async def test_account_awaiting_a_coin_is_not_deleted(client: TestClient[Any, Any],
                                                      app: web.Application) -> None:
    machine = app[MACHINE_KEY]
    buyer = await make_account(app, "buyer")
    await client.post("/sim/fault", json={"device": "acceptor", "fault": "jam"})
    deposit = asyncio.ensure_future(_deposit(client, buyer, 50))
    for _ in range(400):
        if machine.coin_gate.has_open_claim(buyer.id):
            break
        await asyncio.sleep(0.005)
    else:
        raise AssertionError("the deposit claim never opened")
    gone = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    assert gone.status == 409 and (await error_of(gone))["code"] == "deposit_not_empty"
    assert (await deposit).status == 408
    await asyncio.wait_for(machine.acceptor_synced(), 2.0)  # the acceptor is still kept in step


@pytest.mark.parametrize("change", [{"cost": 70}, {"amountAvailable": 10}, {"slot": "B2"}])
async def test_product_changed_during_a_vend(client: TestClient[Any, Any],
                                             app: web.Application, seller: Account,
                                             change: dict[str, Any]) -> None:
    _buyer, product, buy = await _failing_buy_under_way(client, app, seller, stock=5)
    put = await client.put(f"/product/{product}", json=change, headers=seller.auth)
    assert put.status == 200  # after the vend, never under it
    assert (await buy).status == 409
    after = await (await client.get(f"/product/{product}")).json()
    # The change is applied whole; the failed vend took nothing from the stock.
    expected = {"cost": 65, "amountAvailable": 5, "slot": "A1", **change}
    assert {k: after[k] for k in expected} == expected
    await _world_matches_store(app)


async def test_refill_racing_a_coin(client: TestClient[Any, Any], app: web.Application,
                                    operator: Account) -> None:
    for delay in (0.0, 0.01, 0.03):
        coin = asyncio.ensure_future(client.post("/sim/coin", json={"coin": 50}))
        await asyncio.sleep(delay)
        r = await client.put("/machine/coins/50", json={"payout": 30}, headers=operator.auth)
        assert r.status == 200
        assert (await coin).status == 200
        await client.post("/sim/press", json={"keys": "*"})
        await _world_matches_store(app)


async def test_coins_in_a_hurry_stop_at_max_credit(client: TestClient[Any, Any],
                                                   app: web.Application) -> None:
    answers = await asyncio.gather(*(client.post("/sim/coin", json={"coin": 100})
                                     for _ in range(12)))
    results = [(await r.json())["result"] for r in answers]
    assert results.count("accepted") == 10
    machine = app[MACHINE_KEY]
    assert machine.model.panel_credit_cents == 1000
    await _world_matches_store(app)
