"""A power cut at every step of a coin, a sale and a payout through an MDB changer.

The cut comes before and after each store transaction of the flow (also with
the changer half-way through a DISPENSE).  The changer keeps its tubes
through the cut, as a real one does, and forgets a payout under way.  After
the restart the books equal the simulated world (tubes, cashbox), the ledger
balances, nothing is paid twice, and the credit left can be paid back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.machine.harness import (
    CutSwitch,
    Tally,
    check_conservation,
    pull_the_plug,
    run_steps,
    settle,
)
from tests.machine.mdb_rig import sim_changer, start_mdb_machine, until, until_tubes

SALE_SETUP: list[tuple[str, Any]] = [
    ("product", {"slot": "A1", "name": "Cola", "cost": 65, "amount": 3}),
    ("coin", 100),
]
PAYOUT_SETUP: list[tuple[str, Any]] = [("coin", 20), ("coin", 20), ("coin", 10), ("coin", 5)]
FLOWS = {"sale": (SALE_SETUP, "A1"), "coin_return": (PAYOUT_SETUP, "*")}
CUTS = {"sale": 10, "coin_return": 6}


async def _count(flow: str, path: Path) -> int:
    setup, keys = FLOWS[flow]
    machine = await start_mdb_machine(path)
    try:
        await run_steps(machine, setup, Tally())
        switch = CutSwitch(machine, at=10**9, after_commit=False)
        await machine.sim.press(keys)
        await settle(machine)
        return switch.count
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_the_matrix_covers_every_transaction_of_the_flow(flow: str, tmp_path: Path) -> None:
    assert await _count(flow, tmp_path / "v.db") == CUTS[flow]


async def _pay_back_and_check(path: Path, tally: Tally) -> None:
    machine = await start_mdb_machine(path)  # power back: boot recovery runs
    try:
        await check_conservation(machine, tally)
        for device in list(machine.faults.active):  # a technician checks what is latched
            assert device.startswith("hopper:"), machine.faults.active
        if machine.faults.active:
            await machine.set_service(True)
            await machine.set_service(False)
        await machine.sim.press("*")
        await settle(machine)
        await check_conservation(machine, tally)
        assert machine.model.state.value == "idle"
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before_commit", "after_commit"])
@pytest.mark.parametrize(("flow", "at"), [(f, n) for f in sorted(CUTS)
                                          for n in range(1, CUTS[f] + 1)])
async def test_power_cut(flow: str, at: int, after_commit: bool, tmp_path: Path) -> None:
    setup, keys = FLOWS[flow]
    path = tmp_path / "vending.db"
    tally = Tally()
    machine = await start_mdb_machine(path)
    await run_steps(machine, setup, tally)
    sim_changer(machine).coin_s = 0.02
    switch = CutSwitch(machine, at=at, after_commit=after_commit)
    await machine.sim.press(keys)
    await settle(machine)
    assert switch.cut, "the flow ended before the cut"
    await pull_the_plug(machine)
    await _pay_back_and_check(path, tally)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before_commit", "after_commit"])
async def test_power_cut_as_a_coin_is_credited(after_commit: bool, tmp_path: Path) -> None:
    """The board acknowledged the coin's POLL item before the controller booked it: a
    cut in between loses that credit (MDB has no way to ask again), but the tube
    count the changer reports at the restart puts the coin back in the books."""
    path = tmp_path / "vending.db"
    machine = await start_mdb_machine(path)
    await machine.acceptor_synced()
    switch = CutSwitch(machine, at=1, after_commit=after_commit)
    assert sim_changer(machine).insert(20) == "accepted"
    await until(lambda: switch.cut)
    await pull_the_plug(machine)

    machine = await start_mdb_machine(path)
    try:
        tally = Tally(inserted=20 if after_commit else 0)
        await until_tubes(machine, 20, 21)  # the changer's count, booked either way
        await check_conservation(machine, tally)
        events = await machine.events(0, 500)
        counted = [e for e in events if e["kind"] == "tube_counted"]
        assert bool(counted) is not after_commit  # the lost credit is on record
    finally:
        await machine.close()
