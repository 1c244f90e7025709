"""A machine whose coins go through an MDB changer: sales with change from the tubes,
refills in service mode, tube counts kept by the changer, its faults scoped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controller.errors import CountedByChanger
from tests.machine.harness import Tally, check_conservation, run_steps
from tests.machine.mdb_rig import sim_changer, start_mdb_machine, until, until_tubes

COLA = {"slot": "A1", "name": "Cola", "cost": 70, "amount": 3}


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_sale_pays_change_from_the_tubes(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        tally = Tally()
        await run_steps(machine, [("product", COLA), ("coin", 50), ("coin", 50),
                                  ("press", "A1"), ("expect", {"tray": ["Cola"],
                                                               "returned": [20, 10]})], tally)
        await check_conservation(machine, tally)
        inventory = {c["coin"]: c["payout"] for c in await machine.coin_inventory()}
        assert inventory == {5: 20, 10: 19, 20: 19, 50: 22, 100: 20}
        state = await machine.state_json()
        assert state["state"] == "idle"
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_coins_in_service_mode_refill_the_tubes(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        tally = Tally()
        await run_steps(machine, [("service", True)], tally)
        await machine.acceptor_synced()
        assert sim_changer(machine).insert(10) == "accepted"
        await until_tubes(machine, 10, 21)
        assert await machine.panel_credit() == 0  # a refill, not credit
        await run_steps(machine, [("service", False)], tally)
        await machine.acceptor_synced()
        assert sim_changer(machine).insert(10) == "accepted"  # credit again
        await until(lambda: machine.model.panel_credit_cents == 10)
        tally.inserted += 10
        await check_conservation(machine, tally)
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_tube_counts_belong_to_the_changer(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        with pytest.raises(CountedByChanger):
            await machine.set_hopper(50, 10)
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_silent_changer_stops_coins_and_heals(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        assert machine.sim is not None
        await machine.sim.inject_fault("changer", "silent")
        await until(lambda: "acceptor" in machine.faults.active)
        assert machine.fsm_state == "idle"  # account sales go on
        await machine.sim.inject_fault("changer", "clear")
        await until(lambda: "acceptor" not in machine.faults.active)
        await until(lambda: machine.coin_gate.accepting)  # COIN TYPE sent again
        result = await machine.sim.insert_coin(20)
        assert result["result"] == "accepted" and result["credit"] == 20
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_jammed_tube_is_left_out_of_change(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        tally = Tally()
        await run_steps(machine, [("coin", 50), ("coin", 20), ("fault", ("tube:50", "jam")),
                                  ("press", "*"), ("expect", {"credit": 0})], tally)
        assert sorted(machine.sim.state()["returned"]) == [10, 20, 20, 20]
        assert "hopper:50" in machine.faults.active
        await check_conservation(machine, tally)
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_reset_mid_payout_is_never_paid_twice(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        assert machine.sim is not None
        sim_changer(machine).coin_s = 0.1
        for coin in (20, 20):  # paid back as one DISPENSE of two 20c coins
            await machine.sim.insert_coin(coin)
        world = machine.sim.simulated_machine.world
        assert world is not None
        press = asyncio.ensure_future(machine.sim.press("*"))
        await until(lambda: len(world.cup) >= 1)
        await machine.sim.inject_fault("changer", "reset")
        await press
        await machine.settled()
        assert world.cup == [20]  # the reset stopped the second coin
        await asyncio.sleep(0.3)
        assert world.cup == [20]  # and DISPENSE was not sent again
        assert await machine.panel_credit() == 0  # the coin in doubt is not credited back
        assert await machine.credit_outstanding() == 20  # it is held as change owed
        assert any("reset" in r for r in machine.faults.active.values())
        assert (await machine.state_json())["ledgerBalanced"]
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_coins_paid_out_by_hand_at_the_changer_are_booked(tmp_path: Path) -> None:
    machine = await start_mdb_machine(tmp_path / "v.db")
    try:
        assert sim_changer(machine).hand_dispense(20, 3) == 3
        await until_tubes(machine, 20, 17)
        state = await machine.state_json()
        assert state["ledgerBalanced"]
        events = [e["kind"] for e in await machine.events(0, 200)]
        assert "manual_payout" in events
        assert "CA4*0*60*0*60" in (await machine.audit_text()).split("\r\n")
    finally:
        await machine.close()
