"""Random actions on a machine whose cash goes through MDB (changer and bill validator):
coins, bills, selections, coin return, faults of the changer, a tube and the validator,
service-mode refills and coins paid out by hand, in a seeded random order.  At the end
the faults are cleared, the credit paid back, and the books must equal the simulated
world (tubes, cash box), the ledger balance, and every cent the customers put in be
paid back, spent, still credit or held as change owed."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from controller.machine import Machine
from tests.machine.harness import Tally, check_conservation, start_machine, stock
from tests.machine.mdb_rig import mdb_config, sim_changer

FAULTS = [("changer", "silent"), ("changer", "reset"), ("tube:20", "jam"), ("tube:50", "empty"),
          ("changer", "short_pay"), ("bills", "jam"), ("bills", "full")]


async def refilled(machine: Machine) -> int:
    return sum(1 for e in await machine.events(0, 5000) if e["kind"] == "tube_refilled")


async def step(machine: Machine, rng: random.Random, tally: Tally, faulted: set[str]) -> None:
    sim = machine.sim
    assert sim is not None
    action = rng.choice(["coin", "coin", "coin", "bill", "press", "press", "return", "fault",
                         "clear", "hand", "refill"])
    if action == "coin":
        coin = rng.choice([5, 10, 20, 50, 100])
        if (await sim.insert_coin(coin))["result"] == "accepted":
            tally.inserted += coin
    elif action == "bill":
        bill = rng.choice([500, 1000])
        if (await sim.insert_bill(bill))["result"] == "stacked":
            tally.inserted += bill
    elif action == "press":
        await sim.press(rng.choice(["A1", "A2", "B1"]))
    elif action == "return":
        await sim.press("*")
    elif action == "fault":
        device, fault = rng.choice(FAULTS)
        await sim.inject_fault(device, fault)
        if fault != "reset":
            faulted.add(device)
    elif action == "clear" and faulted:
        await sim.inject_fault(faulted.pop(), "clear")
    elif action == "hand":
        sim_changer(machine).hand_dispense(rng.choice([10, 20]), rng.randint(1, 3))
    elif action == "refill":
        await machine.set_service(True)
        await machine.acceptor_synced()
        refills = await refilled(machine)
        if sim_changer(machine).insert(rng.choice([5, 10, 20])) == "accepted":
            for _ in range(300):  # the operator sees it booked before leaving service
                if await refilled(machine) > refills:
                    break
                await asyncio.sleep(0.01)
        await machine.set_service(False)
    await machine.settled()


@pytest.mark.asyncio
@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_mdb_cash(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    machine = await start_machine(tmp_path / "v.db",
                                  mdb_config(bills={"accept_cents": [500, 1000]}))
    try:
        assert machine.sim is not None
        tally = Tally()
        for slot, cost in (("A1", 65), ("A2", 120), ("B1", 250)):
            await stock(machine, slot, f"item {slot}", cost, 5)
            tally.stocked[slot] = 5
        faulted: set[str] = set()
        for _ in range(40):
            await step(machine, rng, tally, faulted)
        for device in sorted(faulted):
            await machine.sim.inject_fault(device, "clear")
        await machine.set_service(True)  # an operator clears what is latched
        await machine.set_service(False)
        await machine.sim.press("*")
        await machine.settled()
        owed = await machine.credit_outstanding() - await machine.panel_credit()
        await check_conservation(machine, Tally(inserted=tally.inserted - owed,
                                                stocked=tally.stocked))
        assert (await machine.state_json())["ledgerBalanced"]
    finally:
        await machine.close()
