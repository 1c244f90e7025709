"""The machine's event stream, seen by a subscriber: a sale at the front panel."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.events import MachineEvent, Subscription
from tests.machine.harness import running, settle, stock

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def drain(sub: Subscription) -> list[MachineEvent]:
    events = []
    while (event := sub.get_nowait()) is not None:
        events.append(event)
    return events


def is_subsequence(wanted: list[str], kinds: list[str]) -> bool:
    it = iter(kinds)
    return all(kind in it for kind in wanted)


async def test_a_sale_is_published_in_order(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        product_id = await stock(machine, "A1", "Cola", 65, 3)
        await settle(machine)
        with machine.stream.subscribe() as sub:
            await machine.sim.insert_coin(100)
            await machine.sim.press("A1")
            await settle(machine)
            events = [e for e in drain(sub) if e.kind not in ("display", "world")]
        kinds = [e.kind for e in events]
        assert is_subsequence(["coin", "credit", "state", "vend", "payout", "inventory",
                               "journal"], kinds), kinds
        by_kind: dict[str, list[MachineEvent]] = {}
        for event in events:
            by_kind.setdefault(event.kind, []).append(event)
        assert by_kind["coin"][0].data == {"coin": 100, "holder": "panel", "route": "hopper"}
        assert by_kind["credit"][0].data == {"holder": "panel", "cents": 100}
        assert by_kind["credit"][-1].data == {"holder": "panel", "cents": 0}
        assert [e.data for e in by_kind["vend"]] == [
            {"slot": "A1", "productId": product_id, "result": "paid", "cents": 65}]
        assert [e.data for e in by_kind["payout"]] == [
            {"holder": "panel", "coins": [20, 10, 5], "unpaid": 0}]
        assert {"slot": "A1"} in [e.data for e in by_kind["stock"]]
        states = [(e.data["previous"], e.data["state"]) for e in by_kind["state"]]
        assert states[0] == ("idle", "credit") and states[-1][1] == "idle"
        assert ("credit", "vending") in states
        last_ids = [e.data["lastId"] for e in by_kind["journal"]]
        assert last_ids == sorted(set(last_ids))
        log = await machine.events(0, 1000)
        assert last_ids[-1] == log[-1]["id"]


async def test_the_display_and_the_simulated_world_are_published(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        with machine.stream.subscribe(["display", "world"]) as sub:
            await machine.sim.insert_coin(50)
            await settle(machine)
            await machine.sim.press("#")
            await settle(machine)
            events = drain(sub)
        lines = [e.data["lines"] for e in events if e.kind == "display"]
        assert ["CREDIT 0.50", "SELECT ITEM"] in lines, lines
        assert any(e.kind == "world" for e in events)
        assert machine.sim.state()["display"] == lines[-1]


async def test_a_fault_and_its_clearing_are_published(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        with machine.stream.subscribe(["faults", "state"]) as sub:
            await machine.faults.report("test fault: check it", device="machine")
            await machine.set_service(True)
            await machine.set_service(False)
            events = drain(sub)
        faults = [e.data["faults"] for e in events if e.kind == "faults"]
        assert faults[0] == [{"device": "machine", "reason": "test fault: check it",
                              "latched": True}]
        assert faults[-1] == []
        assert [e.data["state"] for e in events if e.kind == "state"] == [
            "out_of_service", "service", "idle"]
