"""PulseHopper against SimPulseHopper on mock pins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from gpiozero.pins.mock import MockFactory

from drivers.gpio.pulse_hopper import PulseHopper
from simulators.gpio.pins import sim_pin
from simulators.gpio.pulse_hopper import SimPulseHopper
from simulators.world import SimWorld

MOTOR, EXIT = 22, 10

pytestmark = pytest.mark.asyncio


@dataclass
class Rig:
    world: SimWorld
    sim: SimPulseHopper
    hopper: PulseHopper
    factory: MockFactory

    @property
    def motor_on(self) -> bool:
        return bool(sim_pin(self.factory, MOTOR).output_level)


def make_hopper(factory: MockFactory, **options: float) -> PulseHopper:
    settings: dict[str, float] = {"coin_timeout_s": 0.15, "late_coin_s": 0.08}
    settings.update(options)
    return PulseHopper(20, motor_pin=MOTOR, exit_pin=EXIT, pin_factory=factory,
                       **settings)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def rig(pins: MockFactory) -> AsyncIterator[Rig]:
    world = SimWorld(hoppers={20: 5})
    sim = SimPulseHopper(pins, world, 20, motor_pin=MOTOR, exit_pin=EXIT,
                         coin_interval_s=0.02, exit_pulse_s=0.008, late_s=0.03)
    hopper = make_hopper(pins)
    await sim.start()
    await hopper.start()
    try:
        yield Rig(world, sim, hopper, pins)
    finally:
        await hopper.close()
        await sim.close()


async def test_pays_the_count_and_stops(rig: Rig) -> None:
    seen: list[int] = []

    async def on_paid(total: int) -> None:
        seen.append(total)

    result = await rig.hopper.dispense(3, on_paid=on_paid)
    assert (result.requested, result.paid, result.fault) == (3, 3, None)
    assert seen[-1] == 3 and seen == sorted(seen)
    assert rig.world.hoppers[20] == 2 and rig.world.cup == [20, 20, 20]
    assert not rig.motor_on
    status = await rig.hopper.status()
    assert (status.counter, status.remaining, status.paid, status.unpaid) == (1, 0, 3, 0)


async def test_counter_counts_dispenses(rig: Rig) -> None:
    await rig.hopper.dispense(1)
    await rig.hopper.dispense(1)
    assert (await rig.hopper.status()).counter == 2


async def test_running_empty_pays_short_with_fault(rig: Rig) -> None:
    result = await rig.hopper.dispense(7)
    assert (result.paid, result.unpaid, result.fault) == (5, 2, "jam")
    assert not rig.motor_on
    assert (await rig.hopper.status()).unpaid == 2


async def test_empty_hopper_pays_nothing(rig: Rig) -> None:
    rig.sim.inject("empty")
    started = time.monotonic()
    result = await rig.hopper.dispense(2)
    assert (result.paid, result.fault) == (0, "empty")
    assert time.monotonic() - started < 0.5
    assert not rig.motor_on
    assert rig.world.hoppers[20] == 5


async def test_jammed_hopper_pays_nothing(rig: Rig) -> None:
    rig.sim.inject("jam")
    result = await rig.hopper.dispense(2)
    assert (result.paid, result.fault) == (0, "empty")
    rig.sim.inject("clear")
    assert (await rig.hopper.dispense(2)).paid == 2


async def test_late_coin_is_counted(rig: Rig) -> None:
    rig.sim.inject("late_coin")
    result = await rig.hopper.dispense(2)
    assert result.paid == 3  # what really left the hopper
    assert rig.world.cup == [20, 20, 20]
    assert rig.hopper.stray_coins == 0


@pytest.mark.parametrize("late_s", [0.2, 0.45, 0.49])
async def test_late_coin_at_documented_timings(pins: MockFactory, late_s: float) -> None:
    # a coin in flight exits 200..500 ms after the motor stops; its pulse is ~30 ms
    world = SimWorld(hoppers={20: 5})
    sim = SimPulseHopper(pins, world, 20, motor_pin=MOTOR, exit_pin=EXIT,
                         coin_interval_s=0.05, exit_pulse_s=0.03, late_s=late_s)
    hopper = PulseHopper(20, motor_pin=MOTOR, exit_pin=EXIT, pin_factory=pins,
                         coin_timeout_s=2.0)  # the driver's own late-coin window
    await sim.start()
    await hopper.start()
    try:
        sim.inject("late_coin")
        result = await hopper.dispense(2)
        assert result.paid == 3 and world.cup == [20, 20, 20]
        assert hopper.stray_coins == 0
    finally:
        await hopper.close()
        await sim.close()


async def test_max_on_time_stops_the_motor(pins: MockFactory, rig: Rig) -> None:
    await rig.hopper.close()
    hopper = make_hopper(pins, coin_timeout_s=5.0, max_on_s=0.1)
    await hopper.start()
    rig.sim.inject("jam")
    started = time.monotonic()
    result = await hopper.dispense(2)
    assert (result.paid, result.fault) == (0, "max_on_time")
    assert time.monotonic() - started < 0.5
    assert not rig.motor_on
    await hopper.close()


async def test_emergency_stop(rig: Rig) -> None:
    rig.sim.inject("jam")
    task = asyncio.create_task(rig.hopper.dispense(3))
    await asyncio.sleep(0.05)
    assert rig.motor_on
    status = await rig.hopper.emergency_stop()
    assert not rig.motor_on and status.remaining == 3
    result = await task
    assert (result.paid, result.fault) == (0, "stopped")


async def test_cancelled_dispense_switches_motor_off(rig: Rig) -> None:
    rig.sim.inject("jam")
    task = asyncio.create_task(rig.hopper.dispense(3))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not rig.motor_on


async def test_glitch_on_the_exit_sensor_is_not_a_coin(rig: Rig) -> None:
    rig.sim.inject("jam")
    task = asyncio.create_task(rig.hopper.dispense(1))
    await asyncio.sleep(0.03)
    exit_pin = sim_pin(rig.factory, EXIT)
    exit_pin.drive(False)  # a glitch of microseconds
    exit_pin.drive(True)
    await asyncio.sleep(0.01)
    assert rig.motor_on  # stopped for the would-be last coin, running again
    rig.sim.inject("clear")
    result = await task
    assert (result.paid, result.fault) == (1, None)
    assert rig.world.cup == [20]
