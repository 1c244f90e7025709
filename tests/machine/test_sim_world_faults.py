"""Sim faults belong to the simulated world, and a refusing hopper is never paid.

Faults injected through sim control are saved in the world file beside the
database: a simulated machine killed and restarted finds them still there,
until ``clear``.  ``refuse`` makes a hopper NAK every dispense: on every
hopper model the change is then paid from the other hoppers, and the books
still equal the world.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import Config
from drivers.cctalk.hopper import HOPPER_MODELS
from drivers.errors import DeviceNak
from tests.machine.harness import Tally, check_conservation, run_steps, running

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def config_with_model(model: str) -> Config:
    cfg = Config()
    hoppers = tuple(replace(h, model=model, security=HOPPER_MODELS[model].security)
                    for h in cfg.hoppers)
    return replace(cfg, hoppers=hoppers)


@pytest.mark.parametrize("model", sorted(HOPPER_MODELS))
async def test_a_refusing_hopper_is_never_booked_as_paid(tmp_path: Path, model: str) -> None:
    async with running(tmp_path / "v.db", config_with_model(model)) as machine:
        tally = Tally()
        await run_steps(machine, [
            ("product", {"slot": "A1", "name": "Chips", "cost": 50, "amount": 2}),
            ("coin", 100),
            ("press", "A1"),  # 50 change from the 50c hopper: its last payout is 1 coin
            ("expect", {"tray": ["Chips"], "credit": 0, "returned": [50]}),
            ("fault", ("hopper:50", "refuse")),
            ("coin", 100),
            ("press", "A1"),  # the same dispense again, refused this time
            ("expect", {"tray": ["Chips", "Chips"], "credit": 0}),
        ], tally)
        world = machine.sim.simulated_machine.world
        assert world.hoppers[50] == 19  # the refusing hopper paid nothing more
        assert sorted(world.cup) == [10, 20, 20, 50]  # the second change by the others
        await check_conservation(machine, tally)


async def test_injected_faults_survive_a_restart_until_cleared(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    async with running(db) as machine:
        await machine.sim.inject_fault("hopper:50", "refuse")
        await machine.sim.inject_fault("slot:A1", "jam")
        await machine.sim.inject_fault("hopper:20", "reset")  # acts once, not kept
    saved = json.loads((tmp_path / "v.db.world.json").read_text())["faults"]
    assert saved == {"hopper:50": ["refuse"], "slot:A1": ["jam"]}

    async with running(db) as machine:
        sim = machine.sim.simulated_machine
        assert sim.world.injected_faults() == saved
        with pytest.raises(DeviceNak):  # the restarted hopper still refuses
            await machine.devices.hoppers[50].dispense(1)
        assert sim.world.hoppers[50] == 20
        await machine.sim.inject_fault("hopper:50", "clear")
        await machine.sim.inject_fault("slot:A1", "clear")

    async with running(db) as machine:
        assert machine.sim.simulated_machine.world.injected_faults() == {}
        status = await machine.devices.hoppers[50].status()
        assert status.remaining == 0


async def test_a_fault_of_a_device_no_longer_configured_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    async with running(db) as machine:
        await machine.sim.inject_fault("hopper:5", "empty")
    cfg = Config()
    async with running(db, replace(cfg, hoppers=cfg.hoppers[1:])) as machine:
        assert machine.model.state.value == "idle"  # started, nothing to do with hopper:5
        assert "hopper:5" not in machine.faults.active


async def test_acceptor_events_an_operator_must_know_are_raised(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        await machine.acceptor_synced()
        acceptor = machine.sim.simulated_machine.bus.acceptor
        for code in (1, 17, 254, 36):  # rejected, going backwards, return lever, swallowed
            acceptor.inject_event(code)
        alerts: list[dict[str, object]] = []
        for _ in range(200):
            alerts = [e["data"] for e in await machine.events(0, 1000)
                      if e["kind"] == "acceptor_alert"]
            if len(alerts) >= 2:
                break
            await asyncio.sleep(0.01)
        assert [(a["code"], a["event"]) for a in alerts] == [
            (17, "coin_backwards"), (36, "coin_may_be_swallowed")]
        assert alerts[0]["meaning"] == "coin going backwards"
