"""The operator's round through the API: ``minLevel``, ``stock_low``, ``GET /machine/sales``
and ``GET /machine/picklist``, on the real simulated machine dated by a test clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from controller.app import build_machine
from controller.config import Config
from tests.api.conftest import Account, error_of

Client = TestClient[Any, Any]
pytestmark = pytest.mark.asyncio


class Clock:
    """The machine's wall clock, set by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["UTC", "Asia/Kolkata"])
def zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's local time zone (Kolkata: +05:30, days do not start on a UTC hour)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def machine(tmp_path: Path, clock: Clock) -> AsyncIterator[Any]:
    real: Any = build_machine(Config(), tmp_path / "vending.db", clock=clock)
    await real.start()
    try:
        yield real
    finally:
        await real.close()


def local(day: dt.date, hour: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hour)).timestamp()


async def add(client: Client, seller: Account, **fields: Any) -> dict[str, Any]:
    body = {"productName": "Cola", "cost": 50, "amountAvailable": 10, **fields}
    r = await client.post("/product", json=body, headers=seller.auth)
    assert r.status == 201, await r.text()
    product: dict[str, Any] = await r.json()
    return product


async def sell(client: Client, buyer: Account, product_id: int, coin: int = 50) -> None:
    r = await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)
    assert r.status == 200, await r.text()
    r = await client.post("/buy", json={"productId": product_id, "amount": 1},
                          headers=buyer.auth)
    assert r.status == 200, await r.text()


async def get(client: Client, who: Account, path: str) -> Any:
    r = await client.get(path, headers=who.auth)
    assert r.status == 200, await r.text()
    return await r.json()


async def events_of(client: Client, operator: Account, kind: str) -> list[dict[str, Any]]:
    events = await get(client, operator, "/machine/events?limit=1000")
    return [e["data"] for e in events if e["kind"] == kind]


# --- sales ------------------------------------------------------------------------


async def test_a_sale_at_midnight_counts_on_the_new_day(
        zone: str, client: Client, clock: Clock, seller: Account, buyer: Account,
        operator: Account) -> None:
    product = await add(client, seller)
    day = dt.date(2026, 3, 10)
    clock.now = local(day) - 0.001  # 23:59:59.999 the day before
    await sell(client, buyer, product["id"])
    clock.now = local(day)  # 00:00:00.000
    await sell(client, buyer, product["id"])
    clock.now = local(day) + 30 * 60
    report = await get(client, operator, "/machine/sales?days=3")
    assert report["days"] == [{"date": "2026-03-08", "count": 0, "cents": 0},
                              {"date": "2026-03-09", "count": 1, "cents": 50},
                              {"date": "2026-03-10", "count": 1, "cents": 50}]
    hours = report["hours"]
    assert len(hours) == 24
    assert [h["start"][11:19] for h in hours[-2:]] == ["23:00:00", "00:00:00"]
    assert hours[-2]["start"].startswith("2026-03-09T")
    assert [(h["count"], h["cents"]) for h in hours[-2:]] == [(1, 50), (1, 50)]
    assert sum(h["count"] for h in hours) == 2
    assert dt.datetime.fromisoformat(hours[-1]["start"]).timestamp() == local(day)
    assert report["media"] == [{"medium": "cash", "count": 2, "cents": 100}]
    assert report["products"] == [{"slot": "A1", "productName": "Cola", "count": 2,
                                   "cents": 100}]
    # a day later the last 24 hours no longer hold them, the days still do
    clock.now = local(day) + 25 * 3600
    later = await get(client, operator, "/machine/sales?days=2")
    assert sum(h["count"] for h in later["hours"]) == 0
    assert [d["count"] for d in later["days"]] == [1, 0]


async def test_a_product_moved_to_another_slot_keeps_its_sales(
        client: Client, clock: Clock, seller: Account, buyer: Account,
        operator: Account) -> None:
    cola = await add(client, seller, slot="A1")
    water = await add(client, seller, productName="Water", cost=100, slot="A2")
    await sell(client, buyer, cola["id"])
    r = await client.put(f"/product/{cola['id']}", json={"slot": "C4"}, headers=seller.auth)
    assert r.status == 200
    await sell(client, buyer, cola["id"])
    await sell(client, buyer, water["id"], coin=100)
    report = await get(client, operator, "/machine/sales")
    assert len(report["days"]) == 7 and report["days"][-1]["count"] == 3
    assert report["products"] == [
        {"slot": "C4", "productName": "Cola", "count": 2, "cents": 100},
        {"slot": "A2", "productName": "Water", "count": 1, "cents": 100}]
    picklist = await get(client, operator, "/machine/picklist")
    assert [(s["slot"], s["productName"], s["bring"]) for s in picklist["slots"]] == [
        ("A2", "Water", 1), ("C4", "Cola", 2)]


async def test_sales_days_are_bounded(client: Client, operator: Account, buyer: Account,
                                      seller: Account) -> None:
    assert len((await get(client, operator, "/machine/sales?days=1"))["days"]) == 1
    assert len((await get(client, operator, "/machine/sales?days=90"))["days"]) == 90
    for bad in ("0", "91", "x", "7.0", "-1"):
        r = await client.get(f"/machine/sales?days={bad}", headers=operator.auth)
        assert r.status == 400, bad
        assert (await error_of(r))["code"] == "validation_error"
    for who in (buyer, seller):
        assert (await client.get("/machine/sales", headers=who.auth)).status == 403
        assert (await client.get("/machine/picklist", headers=who.auth)).status == 403
    assert (await client.get("/machine/sales")).status == 401


# --- minimum levels and the pick list ------------------------------------------------


async def test_a_slot_emptied_and_restocked(client: Client, seller: Account, buyer: Account,
                                            operator: Account) -> None:
    product = await add(client, seller, amountAvailable=2, minLevel=1)
    assert product["minLevel"] == 1
    await sell(client, buyer, product["id"])  # 2 -> 1: at its minimum
    assert await events_of(client, operator, "stock_low") == [
        {"product": product["id"], "slot": "A1", "productName": "Cola",
         "amountAvailable": 1, "minLevel": 1}]
    await sell(client, buyer, product["id"])  # 1 -> 0: still low, not said again
    assert len(await events_of(client, operator, "stock_low")) == 1
    picklist = await get(client, operator, "/machine/picklist")
    assert picklist["slots"] == [{"slot": "A1", "productName": "Cola", "amountAvailable": 0,
                                  "capacity": 10, "minLevel": 1, "bring": 10}]
    assert picklist["products"] == [{"productName": "Cola", "bring": 10}]
    # restocked to the top: nothing to bring; the next fall to the minimum is said again
    r = await client.put(f"/product/{product['id']}", json={"amountAvailable": 10},
                         headers=operator.auth)
    assert r.status == 200
    assert (await get(client, operator, "/machine/picklist"))["slots"][0]["bring"] == 0
    r = await client.put(f"/product/{product['id']}", json={"minLevel": 9},
                         headers=seller.auth)
    assert (await r.json())["minLevel"] == 9
    await sell(client, buyer, product["id"])  # 10 -> 9
    lows = await events_of(client, operator, "stock_low")
    assert [e["amountAvailable"] for e in lows] == [1, 9]


async def test_the_pick_list_sums_products_and_fills_hoppers(
        client: Client, seller: Account, operator: Account) -> None:
    await add(client, seller, amountAvailable=4, slot="A1")
    await add(client, seller, amountAvailable=7, slot="B2")
    await add(client, seller, productName="Crisps", amountAvailable=10, slot="B3")
    r = await client.put("/machine/coins/50", json={"payout": 150}, headers=operator.auth)
    assert r.status == 200
    picklist = await get(client, operator, "/machine/picklist")
    assert picklist["products"] == [{"productName": "Cola", "bring": 9},
                                    {"productName": "Crisps", "bring": 0}]
    coins = {c["coin"]: c for c in picklist["coins"]}
    assert set(coins) == {5, 10, 20, 50, 100}
    assert coins[50] == {"coin": 50, "payout": 150, "capacity": 200, "bring": 50}
    assert coins[5] == {"coin": 5, "payout": 20, "capacity": 200, "bring": 180}


async def test_min_level_is_validated_and_changes_nothing_when_bad(
        client: Client, seller: Account, operator: Account) -> None:
    for bad in (11, -1, "1", 1.0, True, None):
        r = await client.post("/product", json={"productName": "Cola", "cost": 50,
                                                "amountAvailable": 3, "minLevel": bad},
                              headers=seller.auth)
        assert r.status == 400, bad
        assert "minLevel" in (await error_of(r)).get("fields", {})
    product = await add(client, seller, amountAvailable=3)
    assert product["minLevel"] == 0
    r = await client.put(f"/product/{product['id']}", json={"minLevel": 11, "cost": 60},
                         headers=operator.auth)
    assert r.status == 400
    after = await get(client, seller, f"/product/{product['id']}")
    assert (after["minLevel"], after["cost"]) == (0, 50)
    r = await client.put(f"/product/{product['id']}", json={"minLevel": 10},
                         headers=operator.auth)
    assert r.status == 200 and (await r.json())["minLevel"] == 10


async def test_metrics_carry_each_slot_s_stock_and_minimum(client: Client, seller: Account,
                                                           operator: Account) -> None:
    async def metrics_show(*lines: str, absent: str = "") -> None:
        deadline = time.monotonic() + 10
        while True:
            text = await (await client.get("/metrics", headers=operator.auth)).text()
            if all(line in text for line in lines) and not (absent and absent in text):
                return
            assert time.monotonic() < deadline, text[-2000:]
            await asyncio.sleep(0.02)

    product = await add(client, seller, amountAvailable=4, minLevel=2)
    await metrics_show('vending_slot_units{slot="A1"} 4.0',
                       'vending_slot_min_level{slot="A1"} 2.0')
    r = await client.put(f"/product/{product['id']}", json={"minLevel": 3, "slot": "B1"},
                         headers=seller.auth)
    assert r.status == 200
    await metrics_show('vending_slot_min_level{slot="B1"} 3.0',
                       absent='vending_slot_units{slot="A1"}')


async def test_the_audit_report_carries_each_minimum_level(client: Client, seller: Account,
                                                           operator: Account) -> None:
    await add(client, seller, amountAvailable=5, minLevel=3, slot="A1")
    r = await client.get("/machine/audit", headers=operator.auth)
    assert r.status == 200
    lines = (await r.text()).split("\r\n")
    # PA1: selection 11, price, name, capacity, -, -, present, PA108 level, PA109 minimum
    assert "PA1*11*50*Cola*10***0*5*3" in lines
