"""A machine with an MDB bill validator beside its MDB changer: bills held in escrow,
stacked only under the credit rule, credited once; faults of the validator alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.machine import Machine
from tests.machine.harness import CutSwitch, Tally, check_conservation, pull_the_plug, stock
from tests.machine.harness import start_machine as start
from tests.machine.mdb_rig import mdb_config, until

BILLS = {"bills": {"accept_cents": [500, 1000]}}


class BillCutSwitch(CutSwitch):
    """Counts only the bill gate's transactions (the changer's own come at any time)."""

    def __init__(self, machine: Machine, at: int, after_commit: bool) -> None:
        self.store_tx = machine.store.tx
        super().__init__(machine, at, after_commit)

    async def tx(self, fn: Any) -> Any:
        if not self.cut and "BillGate" not in getattr(fn, "__qualname__", ""):
            return await self.store_tx(fn)
        return await super().tx(fn)


async def start_machine(path: Path) -> Machine:
    return await start(path, mdb_config(**BILLS))


def stacker(machine: Machine) -> int:
    assert machine.sim is not None and machine.sim.simulated_machine.mdb is not None
    bills = machine.sim.simulated_machine.mdb.bills
    assert bills is not None
    return bills.stacker_value()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_bill_is_stacked_within_the_credit_rule_and_returned_past_it(
        tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        assert machine.sim is not None
        await stock(machine, "A1", "Cola", 150, 3)
        first = await machine.sim.insert_bill(500)
        assert (first["result"], first["credit"]) == ("stacked", 500)
        second = await machine.sim.insert_bill(1000)  # 15.00 would pass max_credit 10.00
        assert (second["result"], second["credit"]) == ("returned", 500)
        assert second["returnedBills"] == [1000]
        await machine.sim.press("A1")
        await machine.settled()
        state = machine.sim.state()
        assert state["tray"] == ["Cola"] and sum(state["returned"]) == 350
        assert stacker(machine) == 500
        taken = await machine.sim.take_tray()
        assert taken["returnedBills"] == [1000] and machine.sim.state()["returnedBills"] == []
        info = await machine.state_json()
        assert info["ledgerBalanced"] and info["bills"]["identity"]["model"] == "SIM-BILLS"
        assert info["changer"]["tubes"][0] == {"coin": 5, "count": 20, "outOfOrder": False}
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_bill_validator_jam_is_its_own_fault(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        assert machine.sim is not None
        await machine.sim.inject_fault("bills", "jam")
        await until(lambda: "bills" in machine.faults.active)
        assert machine.fsm_state == "idle"  # coins go on
        result = await machine.sim.insert_coin(50)
        assert result["result"] == "accepted"
        await machine.sim.inject_fault("bills", "clear")
        await until(lambda: "bills" not in machine.faults.active)
        assert (await machine.sim.insert_bill(500))["result"] == "stacked"
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_full_stacker_refuses_bills(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        assert machine.sim is not None
        await machine.sim.inject_fault("bills", "full")
        assert (await machine.sim.insert_bill(500))["result"] == "returned"
        assert stacker(machine) == 0
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before_commit", "after_commit"])
async def test_a_power_cut_as_a_bill_is_credited(after_commit: bool, tmp_path: Path) -> None:
    """Cut at the bill's credit: stacked and credited once, never twice.  A cut before
    the commit finds the bill in the stacker without its credit: the validator
    reported it stacked (and the board acknowledged that) before the controller
    booked it; MDB offers no way to ask again (README, "MDB payment devices")."""
    path = tmp_path / "v.db"
    machine = await start_machine(path)
    assert machine.sim is not None and machine.sim.simulated_machine.mdb is not None
    bills = machine.sim.simulated_machine.mdb.bills
    assert bills is not None
    await until(lambda: bills.takes(500))
    switch = BillCutSwitch(machine, at=1, after_commit=after_commit)
    assert bills.insert(500) == "escrow"
    await until(lambda: switch.cut)
    await pull_the_plug(machine)
    machine = await start_machine(path)
    try:
        await machine.settled()
        credit = await machine.panel_credit()
        assert credit == (500 if after_commit else 0)
        info = await machine.state_json()
        assert info["ledgerBalanced"]
        back = sum(machine.sim.state()["returnedBills"])
        if after_commit:
            assert (stacker(machine), back) == (500, 0)
        else:  # given back (still in escrow at the cut), or stacked uncredited
            assert (stacker(machine), back) in ((0, 500), (500, 0))
        await check_conservation(machine, Tally(inserted=credit))
        await machine.sim.press("*")  # the credit (if any) paid back once
        await machine.settled()
        assert sum(machine.sim.state()["returned"]) == credit
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_bill_in_escrow_at_a_power_cut_comes_back_uncredited(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    machine = await start_machine(path)
    assert machine.sim is not None and machine.sim.simulated_machine.mdb is not None
    bills = machine.sim.simulated_machine.mdb.bills
    assert bills is not None
    await until(lambda: bills.takes(1000))
    await pull_the_plug(machine)  # stopped first: nobody decides the escrow
    assert bills.insert(1000) == "escrow"
    machine = await start_machine(path)
    try:
        await machine.settled()
        assert machine.sim is not None
        assert machine.sim.state()["returnedBills"] == [1000]
        assert await machine.panel_credit() == 0
        assert stacker(machine) == 0
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_the_audit_report_carries_the_mdb_devices(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        assert machine.sim is not None
        await machine.sim.insert_bill(500)
        lines = (await machine.audit_text()).split("\r\n")
        assert "CA1*000000000001*SIM-CHANGER*0100" in lines
        assert "BA1*000000000002*SIM-BILLS*0100" in lines
        assert "CA3*500*0*0*500*500*0*0*500" in lines  # cash in, box, tubes, bills
        assert "CA15*3700" in lines  # 20 coins of each of 5, 10, 20, 50, 100
        assert "CA17*3*50*20*0*0*0" in lines
    finally:
        await machine.close()
