"""``/deposit``, ``/buy``, ``/reset`` through the API."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from controller.machine import Machine
from tests.api.conftest import Account, error_of
from tests.dex_reader import read_dex

pytestmark = pytest.mark.asyncio


async def _product(client: TestClient[Any, Any], seller: Account, cost: int = 65,
                   amount: int = 5) -> dict[str, Any]:
    r = await client.post("/product", json={"productName": "Chips", "cost": cost,
                                            "amountAvailable": amount}, headers=seller.auth)
    assert r.status == 201
    product: dict[str, Any] = await r.json()
    return product


async def _deposit(client: TestClient[Any, Any], buyer: Account, *coins: int) -> int:
    total = 0
    for coin in coins:
        r = await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)
        assert r.status == 200, await r.text()
        total = (await r.json())["deposit"]
    return total


async def test_deposit_adds_up(client: TestClient[Any, Any], buyer: Account) -> None:
    assert await _deposit(client, buyer, 5, 10, 20, 50, 100) == 185
    r = await client.get("/user", headers=buyer.auth)
    assert (await r.json())["deposit"] == 185


async def test_buy_with_change(client: TestClient[Any, Any], buyer: Account,
                               seller: Account) -> None:
    product = await _product(client, seller)
    await _deposit(client, buyer, 100, 100)
    r = await client.post("/buy", json={"productId": product["id"], "amount": 2},
                          headers=buyer.auth)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["totalSpent"] == 130 and body["amount"] == 2
    assert body["change"] == [50, 20] and body["deposit"] == 0
    assert body["product"]["id"] == product["id"]
    assert body["product"]["amountAvailable"] == 3
    r = await client.get("/user", headers=buyer.auth)
    assert (await r.json())["deposit"] == 0


async def test_buy_errors(client: TestClient[Any, Any], buyer: Account,
                          seller: Account) -> None:
    product = await _product(client, seller, amount=2)
    await _deposit(client, buyer, 50)
    cases = [({"productId": product["id"], "amount": 1}, 409, "insufficient_funds"),
             ({"productId": product["id"], "amount": 3}, 409, "out_of_stock"),
             ({"productId": 999, "amount": 1}, 404, "not_found")]
    for body, status, code in cases:
        r = await client.post("/buy", json=body, headers=buyer.auth)
        assert (r.status, (await error_of(r))["code"]) == (status, code), body
    r = await client.get("/user", headers=buyer.auth)
    assert (await r.json())["deposit"] == 50


async def test_reset_pays_back(client: TestClient[Any, Any], buyer: Account) -> None:
    await _deposit(client, buyer, 100, 20, 5)
    r = await client.post("/reset", headers=buyer.auth)
    assert r.status == 200
    assert await r.json() == {"deposit": 0, "change": [100, 20, 5]}
    r = await client.post("/reset", headers=buyer.auth)
    assert await r.json() == {"deposit": 0, "change": []}


async def test_credit_limit(client: TestClient[Any, Any], buyer: Account) -> None:
    await _deposit(client, buyer, *[100] * 10)
    r = await client.post("/deposit", json={"coin": 5}, headers=buyer.auth)
    assert (r.status, (await error_of(r))["code"]) == (409, "credit_limit")


async def test_cannot_make_change(client: TestClient[Any, Any], operator: Account,
                                  buyer: Account, seller: Account) -> None:
    for coin in (5, 10, 20, 50, 100):
        r = await client.put(f"/machine/coins/{coin}", json={"payout": 0},
                             headers=operator.auth)
        assert r.status == 200
    product = await _product(client, seller, cost=65)
    await _deposit(client, buyer, 100)
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert r.status == 409
    assert (await error_of(r))["code"] == "cannot_make_change"


async def test_hopper_refill_answers_the_inventory(client: TestClient[Any, Any],
                                                  operator: Account) -> None:
    r = await client.put("/machine/coins/50", json={"payout": 30}, headers=operator.auth)
    assert r.status == 200
    answer = await r.json()
    assert (answer["coin"], answer["payout"]) == (50, 30)
    assert [c["coin"] for c in answer["coins"]] == [5, 10, 20, 50, 100]
    assert next(c for c in answer["coins"] if c["coin"] == 50)["payout"] == 30
    machine = await (await client.get("/machine", headers=operator.auth)).json()
    assert [(c["coin"], c["payout"]) for c in machine["coins"]] == \
        [(c["coin"], c["payout"]) for c in answer["coins"]]


async def test_hopper_coin_must_be_a_coin(client: TestClient[Any, Any],
                                          operator: Account) -> None:
    r = await client.put("/machine/coins/7", json={"payout": 1}, headers=operator.auth)
    assert r.status == 400
    assert "coin" in (await error_of(r))["fields"]


async def test_events_query_is_checked(client: TestClient[Any, Any],
                                       operator: Account) -> None:
    r = await client.get("/machine/events?after=0&limit=5", headers=operator.auth)
    assert r.status == 200
    assert isinstance(await r.json(), list)
    for query in ("limit=0", "limit=abc", "after=-1", "limit=5000"):
        r = await client.get(f"/machine/events?{query}", headers=operator.auth)
        assert r.status == 400, query


async def test_audit_is_text(client: TestClient[Any, Any], operator: Account) -> None:
    r = await client.get("/machine/audit", headers=operator.auth)
    assert r.status == 200
    assert r.content_type == "text/plain"
    assert "DXS" in await r.text()


async def test_every_audit_read_counts(client: TestClient[Any, Any], operator: Account,
                                       machine: Any) -> None:
    if not isinstance(machine, Machine):
        pytest.skip("needs the simulated machine")
    reads = []
    for _ in range(3):
        r = await client.get("/machine/audit", headers=operator.auth)
        ea3 = read_dex(await r.text()).singles["EA3"]
        reads.append((ea3["EA309"], ea3["EA305"] != ""))
    assert reads == [("1", False), ("2", True), ("3", True)]  # EA309; EA305 the last read


async def test_buy_waits_for_a_customer_at_the_panel(client: TestClient[Any, Any],
                                                     buyer: Account, seller: Account,
                                                     machine: Any) -> None:
    if not isinstance(machine, Machine):
        pytest.skip("needs the simulated machine")
    product = await _product(client, seller, cost=65)
    await _deposit(client, buyer, 100)
    r = await client.post("/sim/coin", json={"coin": 50})  # somebody at the front panel
    assert (await r.json())["state"] == "credit"
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert (r.status, (await error_of(r))["code"]) == (409, "machine_busy")
    assert (await (await client.get("/user", headers=buyer.auth)).json())["deposit"] == 100
    await client.post("/sim/press", json={"keys": "*"})  # coin return: the panel is idle
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert r.status == 200 and (await r.json())["change"] == [20, 10, 5]


@pytest.mark.machine_config(deposit_claim_s=0.3, deposit_claim_cooldown_s=0)  # no pause
async def test_deposit_refused_by_a_jammed_acceptor_times_out(
        client: TestClient[Any, Any], buyer: Account, operator: Account, machine: Any) -> None:
    if not isinstance(machine, Machine):
        pytest.skip("needs the simulated machine")
    await client.post("/sim/fault", json={"device": "acceptor", "fault": "jam"})
    r = await client.post("/deposit", json={"coin": 50}, headers=buyer.auth)
    assert (r.status, (await error_of(r))["code"]) == (408, "deposit_timeout")
    assert "0.3 s" in (await error_of(r))["message"]
    state = await (await client.get("/machine", headers=operator.auth)).json()
    assert state["state"] == "idle" and state["faults"] == []
    assert (await (await client.get("/sim/state")).json())["returned"] == [50]
    await client.post("/sim/fault", json={"device": "acceptor", "fault": "clear"})
    # the refused insertion holds nothing: the next deposit goes through at once
    assert await _deposit(client, buyer, 50) == 50


async def test_a_hopper_that_refuses_every_dispense_pays_nothing(
        client: TestClient[Any, Any], buyer: Account, seller: Account, operator: Account,
        machine: Any) -> None:
    if not isinstance(machine, Machine):
        pytest.skip("needs the simulated machine")
    r = await client.post("/sim/fault", json={"device": "hopper:50", "fault": "refuse"})
    assert (r.status, await r.json()) == (200, {"device": "hopper:50", "fault": "refuse"})
    product = await _product(client, seller, cost=50)
    await _deposit(client, buyer, 100)
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert r.status == 200 and (await r.json())["change"] == [20, 20, 10]
    # The refusal is a transient fault: recorded, and it may heal at once (the hopper
    # answers its polls), so the event log is where it is sure to be found.
    events = await (await client.get("/machine/events", headers=operator.auth)).json()
    assert any(e["kind"] == "fault" and e["data"]["device"] == "hopper:50"
               and not e["data"]["latched"] for e in events), events
    assert 50 not in (await (await client.get("/sim/state")).json())["returned"]
