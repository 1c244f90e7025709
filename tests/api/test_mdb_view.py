"""A machine with an MDB changer, bill validator and card reader, seen through the API:
``GET /machine`` (tubes, stacker, identities), ``GET /metrics`` and the sim control."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from controller.machine import Machine
from tests.api.conftest import Account, make_account
from tests.api.test_metrics import samples
from tests.machine.harness import start_machine
from tests.machine.mdb_rig import mdb_config

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
MDB = {"bills": {"kind": "mdb", "accept_cents": [500, 1000]}, "cashless": {"kind": "mdb"}}


@pytest_asyncio.fixture
async def mdb_client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Account,
                                                            Machine]]:
    machine = await start_machine(tmp_path / "v.db", mdb_config(**MDB))
    try:
        app = create_app(machine)
        async with TestClient(TestServer(app)) as client:
            yield client, await make_account(app, "operator"), machine
    finally:
        await machine.close()


async def until(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (found := await check()):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
    return found


async def machine_json(client: TestClient[Any, Any], op: Account) -> dict[str, Any]:
    response = await client.get("/machine", headers=op.auth)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def metrics(client: TestClient[Any, Any], op: Account) -> dict[Any, float]:
    response = await client.get("/metrics", headers=op.auth)
    assert response.status == 200
    return samples(await response.text())


async def test_get_machine_shows_tubes_stacker_and_identities(
        mdb_client: tuple[TestClient[Any, Any], Account, Machine]) -> None:
    client, op, _ = mdb_client
    state = await until(lambda: _ready(client, op))
    tube = state["changer"]["tubes"][0]
    assert tube == {"coin": 5, "count": 20, "full": False, "outOfOrder": False}
    bills = state["bills"]
    assert bills["accepts"] == [500, 1000] and bills["stackerValue"] == 0
    assert bills["cashBoxOut"] is False and bills["stackerFull"] is False
    assert bills["identity"]["model"] == "SIM-BILLS"
    assert state["changer"]["identity"]["manufacturer"]
    assert state["reader"]["identity"]["manufacturer"]
    response = await client.post("/sim/bill", json={"bill": 500})
    assert response.status == 200 and (await response.json())["result"] == "stacked"
    after = await machine_json(client, op)
    assert after["bills"]["stackerValue"] == 500 and after["bills"]["stackerCount"] >= 0


async def _ready(client: TestClient[Any, Any], op: Account) -> dict[str, Any] | None:
    state = await machine_json(client, op)
    ready = (state.get("bills", {}).get("state") == "ready"
             and state.get("changer", {}).get("state") == "ready"
             and state.get("reader", {}).get("device") == "ready")
    return state if ready else None


async def test_metrics_count_bills_and_name_every_device(
        mdb_client: tuple[TestClient[Any, Any], Account, Machine]) -> None:
    client, op, _ = mdb_client
    state = await until(lambda: _ready(client, op))
    first = await until(lambda: _with_info(client, op, 3))
    for bill in ("500", "1000"):
        for result in ("stacked", "returned", "rejected"):
            assert first[("vending_bills_total", (("bill", bill), ("result", result)))] == 0
    for told in ("success", "failure", "lost"):
        assert first[("vending_card_vends_total", (("told", told),))] == 0
    assert first[("vending_bill_stacker_bills", ())] == 0
    assert first[("vending_bill_stacker_cents", ())] == 0
    ident = state["bills"]["identity"]
    key = ("vending_device_info", (("device", "bills"), ("manufacturer", ident["manufacturer"]),
                                   ("model", ident["model"]), ("serial", ident["serial"]),
                                   ("software", ident["softwareVersion"])))
    assert first[key] == 1
    assert (await client.post("/sim/bill", json={"bill": 500})).status == 200
    returned = await client.post("/sim/bill", json={"bill": 1000})  # past max_credit
    assert (await returned.json())["result"] == "returned"

    async def counted() -> dict[Any, float] | None:
        now = await metrics(client, op)
        done = now[("vending_bills_total", (("bill", "1000"), ("result", "returned")))] == 1
        return now if done else None

    now = await until(counted)
    assert now[("vending_bills_total", (("bill", "500"), ("result", "stacked")))] == 1
    assert now[("vending_bill_stacker_cents", ())] == 500
    sim_bills = (await (await client.get("/sim/state")).json())["returnedBills"]
    assert sim_bills == [1000]


async def _with_info(client: TestClient[Any, Any], op: Account,
                     devices: int) -> dict[Any, float] | None:
    now = await metrics(client, op)
    named = {dict(labels)["device"] for name, labels in now if name == "vending_device_info"}
    return now if {"changer", "bills", "reader"} <= named and len(named) >= devices else None


async def test_bad_bill_is_refused_and_changes_nothing(
        mdb_client: tuple[TestClient[Any, Any], Account, Machine]) -> None:
    client, op, _ = mdb_client
    await until(lambda: _ready(client, op))
    response = await client.post("/sim/bill", json={"bill": "five"})
    assert response.status == 400
    state = await machine_json(client, op)
    assert state["bills"]["stackerValue"] == 0 and state["panelCredit"] == 0
