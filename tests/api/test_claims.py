"""Remote deposit claims against a walk-up customer, tried as a hostile buyer would.

A claim (``POST /deposit``) waits for the next coin of its value at the coin
slot.  The simulated buyer walks to the machine in ``claim_walk_s`` here, so
that a claim is seen waiting as it is on hardware.  Money is conserved after
each test: the ledger balances and the world holds what the store says.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from controller.ops.ledger import read_ledger
from tests.api.conftest import Account, error_of, make_account

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

WALK_S = 2.0
"""Long enough that every request of a parallel burst arrives while the claim waits."""


def _machine(app: web.Application) -> Any:
    """The real simulated Machine behind the app (the facade type does not name its parts)."""
    return app[MACHINE_KEY]


@pytest.fixture(autouse=True)
def _real_machine(app: web.Application) -> None:
    machine = _machine(app)
    if machine.sim is None:
        pytest.skip("needs the simulated machine")
    machine.sim.simulated_machine.claim_walk_s = WALK_S


async def _deposit(client: TestClient[Any, Any], buyer: Account, coin: int) -> Any:
    return await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)


async def _state(client: TestClient[Any, Any]) -> dict[str, Any]:
    return dict(await (await client.get("/sim/state")).json())


async def _deposit_of(client: TestClient[Any, Any], buyer: Account) -> int:
    return int((await (await client.get("/user", headers=buyer.auth)).json())["deposit"])


async def _display_shows(client: TestClient[Any, Any], lines: list[str]) -> None:
    for _ in range(500):
        if (await _state(client))["display"] == lines:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the LCD shows {(await _state(client))['display']}, not {lines}")


async def _conserved(app: web.Application) -> None:
    """The books balance, and the simulated hoppers and cashbox hold what the store says."""
    machine = _machine(app)
    await machine.settled()
    ledger = await machine.store.run(read_ledger)
    assert ledger.balanced, ledger.identities()
    world = machine.sim.simulated_machine.world
    coins = await machine.store.run(lambda db: {int(r[0]): (int(r[1]), int(r[2])) for r in
                                                db.conn.execute(
                                                    "SELECT coin, payout, cashbox FROM coins")})
    for coin, (payout, cashbox) in coins.items():
        assert (world.hoppers.get(coin, 0), world.cashbox.get(coin, 0)) == (payout, cashbox)


async def test_thirty_parallel_claims_one_proceeds(client: TestClient[Any, Any],
                                                   app: web.Application) -> None:
    buyers = [await make_account(app, "buyer") for _ in range(30)]
    answers = await asyncio.gather(*(_deposit(client, b, 100) for b in buyers))
    statuses = [r.status for r in answers]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == 29, statuses
    for r in answers:
        if r.status == 409:
            assert (await error_of(r))["code"] == "machine_busy"
    deposits = [await _deposit_of(client, b) for b in buyers]
    assert sorted(deposits) == [0] * 29 + [100]
    assert _machine(app).model.panel_credit_cents == 0
    await _conserved(app)


async def test_one_buyer_cannot_stack_claims(client: TestClient[Any, Any],
                                             app: web.Application, buyer: Account) -> None:
    first = asyncio.ensure_future(_deposit(client, buyer, 50))
    await _display_shows(client, ["DEPOSIT 0.50", "* CANCELS"])
    second = await _deposit(client, buyer, 50)
    assert (second.status, (await error_of(second))["code"]) == (409, "machine_busy")
    assert (await first).status == 200
    assert await _deposit_of(client, buyer) == 50
    await _conserved(app)


async def test_no_claim_while_the_panel_holds_credit(client: TestClient[Any, Any],
                                                     app: web.Application,
                                                     buyer: Account) -> None:
    r = await client.post("/sim/coin", json={"coin": 50})  # a walk-up customer
    assert (await r.json())["result"] == "accepted"
    r = await _deposit(client, buyer, 50)
    assert (r.status, (await error_of(r))["code"]) == (409, "machine_busy")
    r = await client.post("/sim/coin", json={"coin": 50})  # her next coin is still hers
    assert (await r.json())["result"] == "accepted"
    assert await _machine(app).panel_credit() == 100
    assert await _deposit_of(client, buyer) == 0
    await client.post("/sim/press", json={"keys": "*"})
    await _conserved(app)
    assert sum((await _state(client))["returned"]) == 100


async def test_star_cancels_a_waiting_claim(client: TestClient[Any, Any],
                                            app: web.Application, buyer: Account) -> None:
    _machine(app).sim.simulated_machine.claim_walk_s = 10.0  # the buyer never arrives
    claim = asyncio.ensure_future(_deposit(client, buyer, 100))
    await _display_shows(client, ["DEPOSIT 1.00", "* CANCELS"])
    await client.post("/sim/press", json={"keys": "*"})
    r = await claim
    assert (r.status, (await error_of(r))["code"]) == (409, "deposit_cancelled")
    assert await _deposit_of(client, buyer) == 0
    await _display_shows(client, ["DEPOSIT", "CANCELLED"])
    await _display_shows(client, ["HELLO", "INSERT COINS"])
    r = await client.post("/sim/coin", json={"coin": 100})  # the panel is the customer's again
    assert (await r.json())["result"] == "accepted"
    assert await _machine(app).panel_credit() == 100
    assert await _deposit_of(client, buyer) == 0
    await client.post("/sim/press", json={"keys": "*"})
    await _conserved(app)


async def test_another_coin_is_refused_while_a_claim_waits(client: TestClient[Any, Any],
                                                           app: web.Application,
                                                           buyer: Account) -> None:
    claim = asyncio.ensure_future(_deposit(client, buyer, 100))
    await _display_shows(client, ["DEPOSIT 1.00", "* CANCELS"])
    r = await client.post("/sim/coin", json={"coin": 50})  # walk-up customer, another value
    assert (await r.json())["result"] != "accepted"
    assert await _machine(app).panel_credit() == 0
    assert (await _state(client))["returned"] == [50]
    assert (await claim).status == 200  # the buyer's own coin still arrives
    assert await _deposit_of(client, buyer) == 100
    assert await _machine(app).panel_credit() == 0
    await _conserved(app)


async def test_the_claimed_coin_inserted_at_the_machine_is_the_claims(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    """On hardware the buyer walks up and inserts the coin: the coin of the claimed value
    goes to the account, not the panel (whoever inserts it: the LCD said whose it is)."""
    _machine(app).sim.simulated_machine.claim_walk_s = 10.0
    claim = asyncio.ensure_future(_deposit(client, buyer, 20))
    await _display_shows(client, ["DEPOSIT 0.20", "* CANCELS"])
    r = await client.post("/sim/coin", json={"coin": 20})
    assert (await r.json())["result"] == "accepted"
    r = await claim
    assert r.status == 200 and (await r.json())["deposit"] == 20
    assert await _machine(app).panel_credit() == 0
    await _display_shows(client, ["HELLO", "INSERT COINS"])
    await _conserved(app)


@pytest.mark.machine_config(deposit_claim_s=0.3)
async def test_an_unanswered_claim_times_out_and_frees_the_machine(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    _machine(app).sim.simulated_machine.claim_walk_s = 10.0
    r = await _deposit(client, buyer, 20)
    assert (r.status, (await error_of(r))["code"]) == (408, "deposit_timeout")
    await _display_shows(client, ["HELLO", "INSERT COINS"])
    r = await client.post("/sim/coin", json={"coin": 20})
    assert (await r.json())["result"] == "accepted"
    assert await _machine(app).panel_credit() == 20
    await client.post("/sim/press", json={"keys": "*"})
    await _conserved(app)
