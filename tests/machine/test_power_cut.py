"""A power cut at every step of a vend and of a payout.

The cut comes before and after each store transaction of the flow (so also
between the journal and the hardware, and with a hopper half-way through a
payout).  Then the machine restarts on the same database and the same saved
physical world, boot recovery runs, and every cent and product must be
accounted for, the ledger must balance, and the credit must be payable.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.machine.harness import (
    CutSwitch,
    Tally,
    check_conservation,
    pull_the_plug,
    run_steps,
    running,
    settle,
    start_machine,
)

SALE_SETUP: list[tuple[str, Any]] = [
    ("product", {"slot": "A1", "name": "Cola", "cost": 65, "amount": 3}),
    ("coin", 100),
]
PAYOUT_SETUP: list[tuple[str, Any]] = [("coin", 20), ("coin", 10), ("coin", 5)]

# the 50 hopper pays nothing: the payout is planned again over the 20 and 10 hoppers
REPLAN_SETUP: list[tuple[str, Any]] = [("coin", 50), ("coin", 20),
                                       ("fault", ("hopper:50", "empty"))]

FLOWS = {"sale": (SALE_SETUP, "A1"), "coin_return": (PAYOUT_SETUP, "*"),
         "replanned_payout": (REPLAN_SETUP, "*")}


async def _transactions_in(flow: str, path: Path) -> int:
    setup, keys = FLOWS[flow]
    async with running(path) as machine:
        await run_steps(machine, setup, Tally())
        switch = CutSwitch(machine, at=10**9, after_commit=False)
        await machine.sim.press(keys)
        await settle(machine)
        return switch.count


CUTS = {"sale": 10, "coin_return": 8, "replanned_payout": 12}


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_flow_transaction_count_is_what_the_cut_matrix_covers(flow: str,
                                                                    tmp_path: Path) -> None:
    # If the flow grows a step, the matrix below must grow with it.
    assert await _transactions_in(flow, tmp_path / "v.db") == CUTS[flow]


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before_commit", "after_commit"])
@pytest.mark.parametrize(("flow", "at"), [(f, n) for f in sorted(CUTS)
                                          for n in range(1, CUTS[f] + 1)])
async def test_power_cut(flow: str, at: int, after_commit: bool, tmp_path: Path) -> None:
    setup, keys = FLOWS[flow]
    path = tmp_path / "vending.db"
    tally = Tally()
    machine = await start_machine(path)
    await run_steps(machine, setup, tally)
    switch = CutSwitch(machine, at=at, after_commit=after_commit)
    await machine.sim.press(keys)
    await settle(machine)
    assert switch.cut, "the flow ended before the cut"
    await pull_the_plug(machine)

    machine = await start_machine(path)  # power back: boot recovery runs
    try:
        await check_conservation(machine, tally)
        if flow == "replanned_payout":  # the empty hopper is still empty: refilled
            await machine.sim.inject_fault("hopper:50", "clear")
        if flow == "replanned_payout" and machine.faults.active:
            assert set(machine.faults.active) == {"hopper:50"}, machine.faults.active
            await machine.set_service(True)  # the technician checks the hopper
            await machine.set_service(False)
        await machine.sim.press("*")  # whatever credit is left can be paid back
        await settle(machine)
        await check_conservation(machine, tally)
        assert machine.model.state.value == "idle"
    finally:
        await machine.close()


def silence_in_the_world(world_file: Path, device: str) -> None:
    """While the power is off, the device stops answering (a loose cable)."""
    world = json.loads(world_file.read_text())
    world["faults"] = {**world.get("faults", {}), device: ["silent"]}
    world_file.write_text(json.dumps(world))


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("at", range(1, CUTS["coin_return"] + 1))
async def test_a_payout_cut_with_its_hopper_silent_at_boot_waits_for_that_hopper(
        at: int, tmp_path: Path) -> None:
    """The power comes back with a hopper of the cut payout not answering: the
    payout stays open (never guessed) while the machine serves; when the hopper
    answers, the payout is reconciled and the credit paid back in full."""
    path = tmp_path / "vending.db"
    tally = Tally()
    machine = await start_machine(path)
    await run_steps(machine, PAYOUT_SETUP, tally)
    switch = CutSwitch(machine, at=at, after_commit=True)
    await machine.sim.press("*")
    await settle(machine)
    assert switch.cut
    await pull_the_plug(machine)
    silence_in_the_world(Path(f"{path}.world.json"), "hopper:5")

    async with running(path) as machine:
        assert machine.health()["status"] == "ok"
        assert {f["device"] for f in machine.health()["faults"]} == {"hopper:5"}
        left_open = await machine.credit_outstanding() - await machine.panel_credit()
        await machine.sim.inject_fault("hopper:5", "clear")
        for _ in range(250):
            if "hopper:5" not in machine.faults.active:
                break
            await asyncio.sleep(0.02)
        assert "hopper:5" not in machine.faults.active
        await check_conservation(machine, tally)  # reconciled: nothing open
        await machine.sim.press("*")
        await settle(machine)
        await check_conservation(machine, tally)
        assert await machine.panel_credit() == 0
        assert sum(machine.sim.state()["returned"]) == 35
        # cut after the 5c dispense was journaled, before its coin was recorded: the
        # payout waited for that hopper (later cuts find the coin recorded)
        assert left_open == (5 if at == 6 else 0)
