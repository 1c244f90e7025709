"""The built-in simulated machine with pulse coin devices (CH-926 acceptor, pulse hoppers).

The real Machine is started from a TOML config, as ``vending run --sim --config``
does; coins go through the real PulseCoinAcceptor and change through the real
PulseHopper drivers, on the same mock pin factory as the spirals, keypad and LCD.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from controller import config as config_module
from controller.app import build_machine
from controller.config import Config
from controller.errors import ConfigError, ValidationError
from controller.machine import Machine
from drivers.cctalk.hopper import CctalkHopper
from drivers.gpio.pulse_acceptor import PulseCoinAcceptor
from drivers.gpio.pulse_hopper import PulseHopper
from tests.machine.harness import Tally, check_conservation, settle, stock

# The default spirals, keypad and LCD use every GPIO but 14 and 15.  With one row of
# two spirals (rows on 5, columns on 16 and 19), 6, 12, 13, 20, 21, 26 and 4 are free
# too: the pulse acceptor takes 14 and 15, three pulse hoppers six more; 50 and 100
# have no hopper and fall into the cashbox.
SMALL = """
[slots]
rows = "A"
columns = 2

[sim]
hopper_fill = 5
"""
PULSE_ACCEPTOR = """
[acceptor]
kind = "pulse"
pulse_pin = 14
inhibit_pin = 15
"""
PULSE_HOPPERS = """
[[hoppers]]
coin_cents = 5
kind = "pulse"
motor_pin = 6
sensor_pin = 12

[[hoppers]]
coin_cents = 10
kind = "pulse"
motor_pin = 13
sensor_pin = 20

[[hoppers]]
coin_cents = 20
kind = "pulse"
motor_pin = 21
sensor_pin = 26
"""
ALL_PULSE = SMALL + PULSE_ACCEPTOR + PULSE_HOPPERS
CCTALK_HOPPERS = """
[[hoppers]]
coin_cents = 5
address = 3

[[hoppers]]
coin_cents = 10
address = 4

[[hoppers]]
coin_cents = 20
address = 5

[[hoppers]]
coin_cents = 50
address = 6
"""


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "machine.toml"
    path.write_text(text)
    return config_module.load(path)


@asynccontextmanager
async def running(tmp_path: Path, text: str) -> AsyncIterator[Machine]:
    machine = build_machine(load(tmp_path, text), tmp_path / "vending.db")
    await machine.start()
    try:
        yield machine
    finally:
        await machine.close()


async def insert(machine: Machine, tally: Tally, *coins: int) -> dict[str, Any]:
    """Coins that must all be accepted; the last answer."""
    result: dict[str, Any] = {}
    for coin in coins:
        result = await machine.sim.insert_coin(coin)
        assert result["result"] == "accepted", result
        tally.inserted += coin
    return result


async def credit(machine: Machine) -> int:
    return int(await machine.panel_credit())


async def press(machine: Machine, keys: str) -> dict[str, Any]:
    await machine.sim.press(keys)
    await settle(machine)
    state: dict[str, Any] = machine.sim.state()
    return state


async def sale_with_a_hopper_fault(machine: Machine, tally: Tally, slot: str, name: str,
                                   cost: int, fault: str) -> dict[str, Any]:
    """One product bought with two 50s while the 20c pulse hopper has ``fault``."""
    await stock(machine, slot, name, cost, 1)
    tally.stocked[slot] = 1
    await machine.sim.inject_fault("hopper:20", fault)
    await insert(machine, tally, 50, 50)
    return await press(machine, slot)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_pulse_sale_pays_change_through_pulse_hoppers(tmp_path: Path) -> None:
    async with running(tmp_path, ALL_PULSE) as machine:
        devices = machine.devices
        assert isinstance(devices.acceptor, PulseCoinAcceptor)
        assert sorted(devices.hoppers) == [5, 10, 20]
        assert all(isinstance(h, PulseHopper) for h in devices.hoppers.values())
        assert machine.sim.simulated_machine.bus is None  # no ccTalk device, no ccTalk bus
        world = machine.sim.simulated_machine.world
        tally = Tally()
        await stock(machine, "A1", "Cola", 65, 3)
        tally.stocked["A1"] = 3
        credits = [(await insert(machine, tally, coin))["credit"] for coin in (50, 20, 10, 20)]
        assert credits == [50, 70, 80, 100]
        assert machine.sim.state()["display"] == ["CREDIT 1.00", "SELECT ITEM"]
        assert world.hoppers == {5: 5, 10: 6, 20: 7} and world.cashbox[50] == 1
        state = await press(machine, "A1")
        assert state["tray"] == ["Cola"]
        assert state["returned"] == [20, 10, 5]  # 35c change, one coin from each pulse hopper
        assert state["state"] == "idle" and await credit(machine) == 0
        assert world.hoppers == {5: 4, 10: 5, 20: 6}
        await check_conservation(machine, tally)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_coin_return_through_pulse_hoppers(tmp_path: Path) -> None:
    async with running(tmp_path, ALL_PULSE) as machine:
        tally = Tally()
        assert (await insert(machine, tally, 20, 10, 5))["credit"] == 35
        state = await press(machine, "*")
        assert sorted(state["returned"]) == [5, 10, 20]
        assert state["state"] == "idle" and await credit(machine) == 0
        await check_conservation(machine, tally)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_empty_pulse_hopper_change_from_the_others(tmp_path: Path) -> None:
    async with running(tmp_path, ALL_PULSE) as machine:
        tally = Tally()
        state = await sale_with_a_hopper_fault(machine, tally, "A2", "Gum", 80, "empty")
        assert state["tray"] == ["Gum"]
        assert sum(state["returned"]) == 20 and 20 not in state["returned"]
        assert await credit(machine) == 0 and machine.model.panel_credit_cents == 0
        assert state["state"] == "idle"  # only that hopper is out of change-making
        assert "hopper 20c" in machine.faults.active["hopper:20"]
        await check_conservation(machine, tally)
        with pytest.raises(ValidationError, match="smoke"):
            await machine.sim.inject_fault("hopper:20", "smoke")


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_inhibited_pulse_acceptor_refuses_in_service_mode(tmp_path: Path) -> None:
    async with running(tmp_path, ALL_PULSE) as machine:
        await machine.set_service(True)
        result = await machine.sim.insert_coin(50)
        assert result["result"] == "inhibited" and result["credit"] == 0
        assert result["returned"] == [50]  # straight into the cup, no pulse sent
        assert not machine.devices.acceptor.accepting
        await machine.set_service(False)
        tally = Tally()
        assert (await insert(machine, tally, 50))["credit"] == 50
        await check_conservation(machine, tally)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_mixed_pulse_acceptor_and_cctalk_hoppers(tmp_path: Path) -> None:
    async with running(tmp_path, PULSE_ACCEPTOR + CCTALK_HOPPERS) as machine:
        devices = machine.devices
        assert isinstance(devices.acceptor, PulseCoinAcceptor)
        assert all(isinstance(h, CctalkHopper) for h in devices.hoppers.values())
        bus = machine.sim.simulated_machine.bus
        assert bus is not None and bus.acceptor is None
        assert sorted(bus.hoppers) == [5, 10, 20, 50]
        tally = Tally()
        await stock(machine, "B2", "Chips", 70, 2)
        tally.stocked["B2"] = 2
        await insert(machine, tally, 50, 50)
        state = await press(machine, "B2")
        assert state["tray"] == ["Chips"] and state["returned"] == [20, 10]
        # Faults reach the right simulator: a ccTalk hopper on the bus, the pulse acceptor.
        await machine.sim.inject_fault("hopper:20", "empty")
        assert bus.hoppers[20].faults == {"empty"}
        await machine.sim.inject_fault("hopper:20", "clear")
        assert not bus.hoppers[20].faults
        await machine.sim.inject_fault("acceptor", "jam")
        result = await machine.sim.insert_coin(20)
        assert result["result"] == "rejected" and result["credit"] == 0
        assert result["returned"] == [20, 10, 20]
        await machine.sim.inject_fault("acceptor", "clear")
        await insert(machine, tally, 20)
        with pytest.raises(ValidationError, match="silent"):
            await machine.sim.inject_fault("acceptor", "silent")
        await check_conservation(machine, tally)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_cctalk_acceptor_with_a_pulse_hopper(tmp_path: Path) -> None:
    text = """
[[hoppers]]
coin_cents = 10
address = 4

[[hoppers]]
coin_cents = 50
kind = "pulse"
motor_pin = 14
sensor_pin = 15
"""
    async with running(tmp_path, text) as machine:
        assert isinstance(machine.devices.hoppers[50], PulseHopper)
        assert isinstance(machine.devices.hoppers[10], CctalkHopper)
        bus = machine.sim.simulated_machine.bus
        assert bus is not None and bus.acceptor is not None and sorted(bus.hoppers) == [10]
        tally = Tally()
        await insert(machine, tally, 50, 50, 10)
        state = await press(machine, "*")
        assert sorted(state["returned"]) == [10, 50, 50]
        await check_conservation(machine, tally)


@pytest.mark.parametrize(("text", "names"), [
    (PULSE_ACCEPTOR.replace("pulse_pin = 14", "pulse_pin = 9"),
     ["GPIO9", "keypad column 1", "acceptor pulse"]),
    (ALL_PULSE.replace("sensor_pin = 26", "sensor_pin = 7"),
     ["GPIO7", "LCD RS", "hopper 20c sensor"]),
    (ALL_PULSE.replace("motor_pin = 6", "motor_pin = 15"),
     ["GPIO15", "acceptor inhibit", "hopper 5c motor"]),
    (PULSE_HOPPERS, ["GPIO6", "spiral row B", "hopper 5c motor"]),
])
def test_pin_collision_is_a_config_error(tmp_path: Path, text: str, names: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        build_machine(load(tmp_path, text), tmp_path / "vending.db")
    for name in names:
        assert name in err.value.message, err.value.message
    assert str(tmp_path / "machine.toml") in err.value.message
    assert not (tmp_path / "vending.db").exists()  # refused before anything started


@pytest.mark.parametrize(("text", "match"), [
    ("[[hoppers]]\ncoin_cents = 50\nkind = \"pulse\"\n", "50c needs motor_pin and sensor_pin"),
    ("[[hoppers]]\ncoin_cents = 50\nkind = \"pulse\"\nmotor_pin = 14\nsensor_pin = 40\n",
     "GPIO0..27 only, not GPIO40 \\(hopper 50c sensor\\)"),
])
def test_unusable_pulse_pins_are_a_config_error(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_machine(load(tmp_path, text), tmp_path / "vending.db")


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_late_coin_overpaid_is_booked_as_a_loss(tmp_path: Path) -> None:
    async with running(tmp_path, ALL_PULSE) as machine:
        tally = Tally()
        state = await sale_with_a_hopper_fault(machine, tally, "A1", "Cola", 65, "late_coin")
        # one more 20 left the hopper after its motor stopped: the customer has it
        assert state["tray"] == ["Cola"] and sorted(state["returned"]) == [5, 10, 20, 20]
        assert await credit(machine) == 0 and machine.model.panel_credit_cents == 0
        assert not any("OWED" in line for line in state["display"])
        counters = await machine.store.run(lambda db: dict(db.conn.execute(
            "SELECT name, lifetime FROM counters").fetchall()))
        assert (counters["overpaid"], counters["change_paid"]) == (20, 35)
        events = await machine.events(0, 1000)
        assert [e["data"]["value"] for e in events if e["kind"] == "payout_overpaid"] == [20]
        await check_conservation(machine, tally)  # both ledger identities hold


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_fault_menu_follows_the_configured_devices(tmp_path: Path) -> None:
    async with running(tmp_path, ALL_PULSE) as machine:
        menu = machine.sim.fault_menu()
        assert list(menu) == ["acceptor", "hopper:5", "hopper:10", "hopper:20", "slot"]
        assert menu["acceptor"] == ["jam"]
        assert menu["hopper:5"] == ["empty", "jam", "late_coin"]
        for device, faults in menu.items():  # every fault offered is taken
            target = "slot:A1" if device == "slot" else device
            for fault in faults:
                assert await machine.sim.inject_fault(target, fault) == {"device": target,
                                                                         "fault": fault}
                await machine.sim.inject_fault(target, "clear")
            # and one not offered (a ccTalk line fault on a pulse device) is refused
            with pytest.raises(ValidationError):
                await machine.sim.inject_fault(target, "bad_checksum")


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", ["empty", "jam"])
async def test_a_pulse_hopper_fault_is_latched_and_the_machine_sells_on(
        tmp_path: Path, fault: str) -> None:
    """A pulse hopper that stops paying (empty, jammed) is left out of change-making
    until an operator clears it; the sale and its change go on with the others."""
    async with running(tmp_path, ALL_PULSE) as machine:
        tally = Tally()
        state = await sale_with_a_hopper_fault(machine, tally, "A2", "Gum", 80, fault)
        assert state["tray"] == ["Gum"] and sum(state["returned"]) == 20
        await machine.sim.inject_fault("hopper:20", "clear")
        await asyncio.sleep(0.5)
        assert machine.faults.get("hopper:20") is not None
        assert machine.faults.get("hopper:20").latched  # type: ignore[union-attr]
        assert machine.health()["faults"][0]["device"] == "hopper:20"
        await machine.set_service(True)
        await machine.set_service(False)
        assert "hopper:20" not in machine.faults.active
        await check_conservation(machine, tally)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_jammed_pulse_acceptor_returns_coins_until_it_is_freed(tmp_path: Path) -> None:
    """A pulse acceptor cannot report a fault: a jammed one sends every coin back
    (nothing credited), and takes coins again once freed."""
    async with running(tmp_path, ALL_PULSE) as machine:
        tally = Tally()
        await machine.sim.inject_fault("acceptor", "jam")
        assert (await machine.sim.insert_coin(20))["result"] == "rejected"
        await machine.sim.inject_fault("acceptor", "clear")
        assert (await insert(machine, tally, 20))["credit"] == 20
        state = await press(machine, "*")
        assert sorted(state["returned"]) == [20, 20]
        await check_conservation(machine, tally)
