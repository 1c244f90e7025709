"""Faults take out only what they touch, heal by themselves, and never end the process.

Every ccTalk fault of the sim control list, on the acceptor, a hopper and a
slot: a transient one (the device stops answering, line noise, a refused
dispense) heals within 5 s of the device answering again, with an event; a
latched one (a jam, an empty hopper, lost acceptor events) stays until an
operator leaves service mode.  Meanwhile the machine sells with what works,
and after each run the books equal the simulated world.  A device silent at
start-up does not stop the machine starting: it is brought in when it answers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from controller.fsm import State
from controller.machine import Machine
from tests.machine.harness import Tally, check_conservation, run_steps, running, start_machine

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
CHIPS = {"slot": "A1", "name": "Chips", "cost": 50, "amount": 5}
GUM = {"slot": "B2", "name": "Gum", "cost": 50, "amount": 5}
HEAL_S = 5.0


async def wait_for(check: Any, timeout_s: float = HEAL_S) -> bool:
    for _ in range(int(timeout_s / 0.02)):
        if check():
            return True
        await asyncio.sleep(0.02)
    return bool(check())


def fault_of(machine: Machine, device: str) -> dict[str, Any] | None:
    return next((f for f in machine.health().get("faults", []) if f["device"] == device), None)


async def event_kinds(machine: Machine, device: str) -> list[str]:
    return [e["kind"] for e in await machine.events(0, 10000)
            if e["data"].get("device") == device]


@pytest.mark.parametrize("fault", ["silent", "bad_checksum", "garbage", "nak", "refuse"])
async def test_a_transient_hopper_fault_heals_and_nothing_is_lost(tmp_path: Path,
                                                                  fault: str) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally()
        await run_steps(machine, [("product", CHIPS), ("fault", ("hopper:50", fault)),
                                  ("coin", 100), ("press", "A1"),
                                  ("expect", {"tray": ["Chips"], "credit": 0,
                                              "returned": [20, 20, 10]})], tally)
        assert machine.fsm_state == "idle"  # the machine sells on, that hopper is out
        await run_steps(machine, [("fault", ("hopper:50", "clear"))], tally)
        assert await wait_for(lambda: fault_of(machine, "hopper:50") is None)
        assert await event_kinds(machine, "hopper:50") == ["fault", "fault_cleared"]
        await run_steps(machine, [("coin", 100), ("press", "A1"),
                                  ("expect", {"tray": ["Chips"] * 2, "credit": 0,
                                              "returned": [20, 20, 10, 50]})], tally)
        await check_conservation(machine, tally)


@pytest.mark.parametrize("fault", ["empty", "jam", "short_pay"])
async def test_a_latched_hopper_fault_stays_until_an_operator_clears_it(
        tmp_path: Path, fault: str) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally()
        # no 100 in its hopper: a coin return of 1.00 asks the 50c hopper for two
        await run_steps(machine, [("product", CHIPS), ("coin", 100), ("refill", (100, 0)),
                                  ("fault", ("hopper:50", fault)), ("press", "*"),
                                  ("expect", {"credit": 0, "state": "idle",
                                              "returned_value": 100})], tally)
        await run_steps(machine, [("fault", ("hopper:50", "clear")), ("wait", 1.0)], tally)
        got = fault_of(machine, "hopper:50")
        assert got is not None and got["latched"]
        await run_steps(machine, [("coin", 100), ("press", "A1"),  # still sells, no 50 used
                                  ("expect", {"tray": ["Chips"], "credit": 0})], tally)
        assert machine.sim.state()["returned"].count(50) <= 1  # the one before the jam
        await run_steps(machine, [("service", True), ("service", False)], tally)
        assert fault_of(machine, "hopper:50") is None
        await check_conservation(machine, tally)


@pytest.mark.parametrize("fault", ["silent", "bad_checksum", "garbage", "nak"])
async def test_a_transient_acceptor_fault_stops_only_coins_and_heals(
        tmp_path: Path, fault: str) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally()
        await run_steps(machine, [("product", CHIPS), ("coin", 100),
                                  ("fault", ("acceptor", fault))], tally)
        assert await wait_for(lambda: fault_of(machine, "acceptor") is not None)
        assert machine.model.state is State.CREDIT
        await run_steps(machine, [("press", "A1"),  # selling goes on
                                  ("expect", {"tray": ["Chips"], "returned": [50]}),
                                  ("fault", ("acceptor", "clear"))], tally)
        assert await wait_for(lambda: fault_of(machine, "acceptor") is None)
        await machine.acceptor_synced()
        await run_steps(machine, [("coin", 50), ("press", "A1"),
                                  ("expect", {"tray": ["Chips"] * 2, "credit": 0})], tally)
        await check_conservation(machine, tally)


async def test_an_acceptor_reset_is_resynchronised(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally()
        await run_steps(machine, [("product", CHIPS), ("coin", 20),
                                  ("fault", ("acceptor", "reset")), ("wait", 0.5),
                                  ("coin", 20), ("coin", 10),
                                  ("expect", {"credit": 50}), ("press", "A1"),
                                  ("expect", {"tray": ["Chips"], "credit": 0})], tally)
        assert fault_of(machine, "acceptor") is None
        await check_conservation(machine, tally)


@pytest.mark.parametrize("fault", ["jam", "jam_turn", "no_drop"])
async def test_a_slot_fault_takes_out_that_slot_until_cleared(tmp_path: Path,
                                                              fault: str) -> None:
    async with running(tmp_path / "v.db") as machine:
        tally = Tally()
        await run_steps(machine, [("product", CHIPS), ("product", GUM),
                                  ("fault", ("slot:A1", fault)), ("coin", 100),
                                  ("press", "A1"), ("expect", {"tray": [], "credit": 100}),
                                  ("fault", ("slot:A1", "clear")), ("press", "B2"),
                                  ("expect", {"tray": ["Gum"], "returned": [50]})], tally)
        got = fault_of(machine, "slot:A1")
        assert got is not None and got["latched"] and machine.fsm_state == "idle"
        await run_steps(machine, [("service", True), ("service", False), ("coin", 50),
                                  ("press", "A1"), ("expect", {"tray": ["Gum", "Chips"]})],
                        tally)
        assert fault_of(machine, "slot:A1") is None
        await check_conservation(machine, tally)


async def test_a_device_that_keeps_failing_is_latched(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        for _ in range(5):
            fault = await machine.faults.report("hopper 20c not answering", device="hopper:20",
                                                latched=False)
            if not fault.latched:
                assert await machine.faults.heal("hopper:20", "answers again")
        assert fault.latched and "failed 5 times" in fault.reason
        assert not await machine.faults.heal("hopper:20", "answers again")
        assert machine.fsm_state == "idle"


@pytest.mark.parametrize("device", ["acceptor", "hopper:50", "hopper:5"])
@pytest.mark.parametrize("fault", ["silent", "garbage"])
async def test_a_device_silent_at_start_up_is_brought_in_when_it_answers(
        tmp_path: Path, device: str, fault: str) -> None:
    db = tmp_path / "v.db"
    tally = Tally()
    async with running(db) as machine:
        await run_steps(machine, [("product", CHIPS), ("coin", 100), ("coin", 20),
                                  ("fault", (device, fault))], tally)
    machine = await start_machine(db)  # the fault is part of the world: still there
    try:
        assert machine.health()["status"] == "ok"
        assert fault_of(machine, device) is not None
        await run_steps(machine, [("press", "*"),  # the credit is paid back
                                  ("expect", {"credit": 0, "returned_value": 120})], tally)
        await run_steps(machine, [("fault", (device, "clear"))], tally)
        assert await wait_for(lambda: fault_of(machine, device) is None)
        await machine.acceptor_synced()
        await run_steps(machine, [("coin", 100), ("press", "A1"),
                                  ("expect", {"tray": ["Chips"], "credit": 0})], tally)
        await check_conservation(machine, tally)
    finally:
        await machine.close()


def fixed_while_off(world_file: Path, device: str) -> None:
    """The technician fixed the cable while the machine was off."""
    world = json.loads(world_file.read_text())
    world["faults"].pop(device, None)
    world_file.write_text(json.dumps(world))


@pytest.mark.parametrize("device", ["acceptor", "hopper:20"])
async def test_a_transient_fault_left_by_a_stop_heals_once_the_device_answers(
        tmp_path: Path, device: str) -> None:
    db = tmp_path / "v.db"
    async with running(db) as machine:
        await machine.sim.inject_fault(device, "silent")
        if device.startswith("hopper"):  # a hopper is found silent when it is asked
            await run_steps(machine, [("product", CHIPS), ("coin", 20), ("coin", 50),
                                      ("press", "A1")], Tally())
        for _ in range(300):  # recorded once its outputs are safe
            if "fault" in await event_kinds(machine, device):
                break
            await asyncio.sleep(0.02)
        assert "fault" in await event_kinds(machine, device)
    fixed_while_off(Path(f"{db}.world.json"), device)
    async with running(db) as machine:
        assert await wait_for(lambda: fault_of(machine, device) is None)
        assert "fault_cleared" in await event_kinds(machine, device)
