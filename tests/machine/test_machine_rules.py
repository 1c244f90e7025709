"""Rules of the machine that need more than a scenario: timing and restarts."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from controller.fsm import State
from controller.store import credit
from tests.machine.harness import (
    CutSwitch,
    PowerCut,
    Tally,
    check_conservation,
    pull_the_plug,
    run_steps,
    running,
    settle,
    start_machine,
    stock,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def test_a_coin_arriving_mid_vend_never_stops_the_motor(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally(stocked={"A1": 2})
        product = await stock(machine, "A1", "Cola", 65, 2)
        await run_steps(machine, [("coin", 100)], tally)
        sale = asyncio.create_task(machine.sales.sell(credit.PANEL, product, 1))
        for _ in range(400):
            if machine.model.state is State.VENDING:
                break
            await asyncio.sleep(0.005)
        assert machine.model.state is State.VENDING
        # a coin already in the validator when the inhibit went on: credited mid-turn
        sim = machine.sim.simulated_machine
        sim.world.route_coin(50)
        sim.bus.acceptor.inject_event(1, position=4)
        tally.inserted += 50
        result = await sale
        assert result.delivered and result.failure is None
        log = sim.gpio.spirals.log
        assert not log.entries("violation")
        assert any("A1" in e.detail for e in log.entries("drop")) or sim.world.tray == ["Cola"]
        await settle(machine)
        assert sim.world.tray == ["Cola"]
        # the change paid is the whole credit after the sale, the mid-vend coin included
        assert sum(sim.world.cup) == 150 - 65
        await check_conservation(machine, tally)


@pytest.mark.parametrize("first_coin", [True, False], ids=["first_coin", "later_coin"])
@pytest.mark.parametrize("after_commit", [False, True], ids=["before_commit", "after_commit"])
async def test_a_coin_buffered_across_a_power_cut_is_credited_once(
        after_commit: bool, first_coin: bool, tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    machine = await start_machine(path)
    tally = Tally()
    await run_steps(machine, [] if first_coin else [("coin", 20)], tally)
    switch = CutSwitch(machine, at=1, after_commit=after_commit)
    with contextlib.suppress(PowerCut):  # the acceptor takes it; the cut comes at its credit
        await machine.sim.insert_coin(50)
    tally.inserted += 50
    for _ in range(100):
        if switch.cut:
            break
        await asyncio.sleep(0.01)
    assert switch.cut
    await pull_the_plug(machine)
    async with running(path) as machine:
        # the acceptor's buffered coin comes in with its first polls
        deadline = asyncio.get_running_loop().time() + 5
        while await machine.panel_credit() != tally.inserted:
            assert asyncio.get_running_loop().time() < deadline, "the buffered coin never came"
            await asyncio.sleep(0.01)
        await machine.settled()
        await check_conservation(machine, tally)
        assert await machine.panel_credit() == tally.inserted  # credited once, not twice


async def test_acceptor_is_inhibited_outside_idle_and_credit(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        acceptor = machine.devices.acceptor
        assert acceptor.accepting
        await machine.set_service(True)
        await machine.acceptor_synced()
        assert not acceptor.accepting
        result = await machine.sim.insert_coin(50)
        assert result["result"] == "inhibited" and result["credit"] == 0
        await machine.set_service(False)
        await machine.acceptor_synced()
        assert acceptor.accepting


async def test_credit_survives_a_clean_restart(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    async with running(path) as machine:
        await run_steps(machine, [("coin", 50), ("coin", 20)], Tally())
        await machine.close()
        machine = await start_machine(path)
        assert machine.model.state is State.CREDIT
        assert machine.sim.state()["display"][0] == "CREDIT 0.70"


@pytest.mark.parametrize("fault", ["busy", "nak", "silent"])
async def test_an_acceptor_that_is_not_read_stops_only_coins_and_heals(
        tmp_path: Path, fault: str) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally()
        await run_steps(machine, [("coin", 100)], tally)
        await machine.sim.inject_fault("acceptor", fault)
        for _ in range(300):
            if "acceptor" in machine.faults.active:
                break
            await asyncio.sleep(0.01)
        assert "coin acceptor not answering" in machine.faults.active["acceptor"]
        assert machine.model.state is State.CREDIT  # only coins are out
        assert machine.health()["faults"][0]["latched"] is False
        await machine.sim.inject_fault("acceptor", "clear")
        for _ in range(500):  # within 5 s of answering again
            if "acceptor" not in machine.faults.active:
                break
            await asyncio.sleep(0.01)
        assert "acceptor" not in machine.faults.active
        events = await machine.events(0, 1000)
        assert any(e["kind"] == "fault_cleared" and e["data"]["device"] == "acceptor"
                   for e in events)
        await machine.sim.press("*")
        await settle(machine)
        assert machine.sim.state()["returned"] == [100]
        await check_conservation(machine, tally)


async def test_lost_acceptor_events_latch_the_acceptor(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        sim = machine.sim.simulated_machine
        await machine.acceptor_synced()
        for _ in range(7):  # seven coins between two polls: the buffer holds five
            sim.world.route_coin(50)
            sim.bus.acceptor.inject_event(1, position=4)
        for _ in range(300):
            if machine.model.state is State.OUT_OF_SERVICE:
                break
            await asyncio.sleep(0.01)
        assert "lost 2 event(s)" in machine.faults.active["acceptor"]
        credit = await machine.panel_credit()
        assert credit == 250  # the five the device still reported
        events = await machine.events(0, 1000)
        assert any(e["kind"] == "fault" and "lost 2" in e["data"]["reason"] for e in events)
        assert machine.faults.get("acceptor").latched  # type: ignore[union-attr]
        assert machine.model.state is State.CREDIT  # account sales and coin return go on
