"""The retained ``inventory`` of a machine with an MDB changer and bill validator, over a
real Mosquitto: every field of the contract, plus its tubes and its bill stacker."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from controller.config import TelemetryConfig
from controller.fleet.publisher import TelemetryPublisher, inventory_payload
from tests.fleet.mqtt import Broker
from tests.fleet.test_round import until_retained
from tests.machine.harness import start_machine
from tests.machine.mdb_rig import mdb_config

pytestmark = [pytest.mark.timeout(90)]


@pytest.mark.asyncio
async def test_inventory_carries_tubes_and_stacker(tmp_path: Path, broker: Broker) -> None:
    base = mdb_config(bills={"kind": "mdb", "accept_cents": [500, 1000]})
    cfg = dataclasses.replace(
        base, machine=dataclasses.replace(base.machine, machine_id="RPV0301"),
        telemetry=TelemetryConfig(broker=broker.url))
    machine = await start_machine(tmp_path / "v.db", cfg)
    assert cfg.telemetry is not None and machine.sim is not None
    publisher = TelemetryPublisher(machine, cfg.telemetry)
    try:
        await publisher.start()
        await asyncio.wait_for(publisher.connected.wait(), 20)
        assert (await machine.sim.insert_bill(500))["result"] == "stacked"
        body = await until_retained(broker, "vending/RPV0301/inventory",
                                    lambda b: b.get("stacker", {}).get("value") == 500)
        assert set(body) == {"slots", "coins", "tubes", "stacker"}
        assert all(set(c) == {"coin", "payout", "capacity", "cashbox"} for c in body["coins"])
        assert body["stacker"]["full"] is False and body["stacker"]["cashBoxOut"] is False
        tubes = {t["coin"]: t for t in body["tubes"]}
        assert tubes[5] == {"coin": 5, "count": 20, "full": False, "outOfOrder": False}
        assert {c["coin"]: c["payout"] for c in body["coins"]}[5] == 20  # the same coins
    finally:
        await publisher.close()
        await machine.close()


def test_a_machine_without_mdb_devices_sends_the_inventory_unchanged() -> None:
    state: dict[str, Any] = {
        "slots": [{"slot": "A1", "capacity": 10, "status": "ok", "product": None}],
        "coins": [{"coin": 50, "payout": 3, "capacity": 100, "cashbox": 1}]}
    assert inventory_payload(state) == {
        "slots": [{"slot": "A1", "productName": None, "cost": None, "amountAvailable": 0,
                   "capacity": 10, "minLevel": 0, "status": "ok"}],
        "coins": [{"coin": 50, "payout": 3, "capacity": 100, "cashbox": 1}]}
