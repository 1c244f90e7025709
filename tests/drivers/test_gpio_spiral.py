"""GpioSpiralMatrix against SimSpiralMechanics on mock pins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from gpiozero.pins.mock import MockFactory

from drivers.base import VendOutcome
from drivers.gpio.lines import OutputLine
from drivers.gpio.spiral import GpioSpiralMatrix
from simulators.gpio.pins import sim_pin
from simulators.gpio.spiral import SimSpiralMechanics
from simulators.world import SimWorld

ROWS = (5, 6, 12, 13)
COLUMNS = (16, 19, 20, 21, 26, 4)
CAM, DROP = 3, 2

pytestmark = pytest.mark.asyncio


@dataclass
class Rig:
    world: SimWorld
    sim: SimSpiralMechanics
    matrix: GpioSpiralMatrix
    factory: MockFactory

    def outputs_on(self) -> list[int]:
        return [p for p in (*ROWS, *COLUMNS) if sim_pin(self.factory, p).output_level]


def make_matrix(factory: MockFactory, **timing: float) -> GpioSpiralMatrix:
    options: dict[str, float] = {"leave_home_timeout_s": 0.15, "turn_timeout_s": 0.4,
                                 "drop_wait_s": 0.1}
    options.update(timing)
    return GpioSpiralMatrix(row_pins=ROWS, column_pins=COLUMNS, cam_pin=CAM, drop_pin=DROP,
                            pin_factory=factory, **options)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def rig(pins: MockFactory) -> AsyncIterator[Rig]:
    world = SimWorld(spirals={s: [] for s in ("A1", "A2", "B3", "C6", "D6")})
    world.load_spiral("A1", "cola", 2)
    world.load_spiral("C6", "chips", 1)
    sim = SimSpiralMechanics(pins, world, row_pins=ROWS, column_pins=COLUMNS, cam_pin=CAM,
                             drop_pin=DROP, leave_home_s=0.02, turn_s=0.06, fall_s=0.01,
                             beam_s=0.01)
    matrix = make_matrix(pins)
    await sim.start()
    await matrix.start()
    try:
        yield Rig(world, sim, matrix, pins)
    finally:
        await matrix.close()
        await sim.close()


def assert_one_motor_at_a_time(sim: SimSpiralMechanics) -> None:
    assert sim.log.entries("outputs"), "the simulator saw no output changes"
    assert sim.log.entries("violation") == []


async def test_slots_are_row_letter_and_column(rig: Rig) -> None:
    assert rig.matrix.slots[:7] == ("A1", "A2", "A3", "A4", "A5", "A6", "B1")
    assert rig.matrix.slots[-1] == "D6"
    assert len(rig.matrix.slots) == 24


async def test_vend_delivers_front_product(rig: Rig) -> None:
    result = await rig.matrix.vend("A1")
    assert result.outcome is VendOutcome.DELIVERED and result.turns == 1
    assert rig.world.tray == ["cola"]
    assert rig.world.spirals["A1"] == ["cola"]
    assert rig.outputs_on() == []
    assert rig.sim.cam_home
    assert_one_motor_at_a_time(rig.sim)


async def test_consecutive_vends_of_different_slots(rig: Rig) -> None:
    results = [await rig.matrix.vend(s) for s in ("A1", "C6", "A1")]
    assert [r.outcome for r in results] == [VendOutcome.DELIVERED] * 3
    assert rig.world.tray == ["cola", "chips", "cola"]
    assert rig.sim.turns == {"A1": 2, "C6": 1}
    assert_one_motor_at_a_time(rig.sim)


async def test_concurrent_vends_are_serialised(rig: Rig) -> None:
    results = await asyncio.gather(rig.matrix.vend("A1"), rig.matrix.vend("C6"))
    assert all(r.delivered for r in results)
    assert sorted(rig.world.tray) == ["chips", "cola"]
    assert_one_motor_at_a_time(rig.sim)


async def test_empty_spiral_is_no_drop_after_nudges(rig: Rig) -> None:
    result = await rig.matrix.vend("B3")
    assert result.outcome is VendOutcome.NO_DROP
    assert result.turns == 4  # the turn and 3 nudges
    assert rig.sim.turns["B3"] == 4
    assert rig.world.tray == []
    assert rig.outputs_on() == []


async def test_hanging_product_is_no_drop(rig: Rig) -> None:
    rig.sim.inject("A1", "no_drop")
    result = await rig.matrix.vend("A1")
    assert result.outcome is VendOutcome.NO_DROP
    assert rig.world.spirals["A1"] == ["cola", "cola"]
    rig.sim.inject("A1", "clear")
    assert (await rig.matrix.vend("A1")).delivered


async def test_jam_at_home_stops_quickly_with_motors_off(rig: Rig) -> None:
    rig.sim.inject("A1", "jam")
    started = time.monotonic()
    result = await rig.matrix.vend("A1")
    elapsed = time.monotonic() - started
    assert result.outcome is VendOutcome.JAM_HOME and result.turns == 1
    assert 0.15 <= elapsed < 0.4
    assert rig.outputs_on() == []
    assert rig.world.spirals["A1"] == ["cola", "cola"]
    assert rig.sim.log.entries("unpower")


async def test_jam_mid_turn_is_jam_turn(rig: Rig) -> None:
    rig.sim.inject("C6", "jam_turn")
    result = await rig.matrix.vend("C6")
    assert result.outcome is VendOutcome.JAM_TURN
    assert rig.outputs_on() == []
    assert not rig.sim.cam_home
    assert rig.world.spirals["C6"] == ["chips"]


async def test_interrupted_turn_is_finished_by_the_next_vend(rig: Rig) -> None:
    rig.sim.inject("A1", "jam_turn")
    assert (await rig.matrix.vend("A1")).outcome is VendOutcome.JAM_TURN
    rig.sim.inject("A1", "clear")
    result = await rig.matrix.vend("A1")
    assert result.delivered and rig.sim.cam_home


async def test_unknown_slot_is_refused(rig: Rig) -> None:
    with pytest.raises(LookupError):
        await rig.matrix.vend("E1")


async def test_max_on_time_switches_off_a_stuck_coroutine(pins: MockFactory) -> None:
    motor = OutputLine(5, name="spiral row A", max_on_s=0.15, pin_factory=pins)
    motor.open(asyncio.get_running_loop())

    async def stuck() -> None:
        motor.on()
        await asyncio.Event().wait()  # a vend coroutine that never comes back

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0.05)
    assert motor.is_on and pins.pin(5).state
    await asyncio.sleep(0.2)
    assert not motor.is_on and not pins.pin(5).state  # the timer did it
    assert motor.trips == 1 and not task.done()  # the coroutine is still waiting
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    motor.close()


async def test_max_on_time_ends_a_long_turn(pins: MockFactory, rig: Rig) -> None:
    await rig.matrix.close()
    matrix = make_matrix(pins, turn_timeout_s=5.0, max_on_s=0.15)
    await matrix.start()
    rig.sim.inject("A1", "jam_turn")
    started = time.monotonic()
    result = await matrix.vend("A1")
    assert result.outcome is VendOutcome.JAM_TURN
    assert "maximum on-time" in result.detail
    assert time.monotonic() - started < 0.5
    assert rig.outputs_on() == []
    await matrix.close()


async def test_cancelled_vend_switches_motor_off(rig: Rig) -> None:
    rig.sim.inject("A1", "jam_turn")
    task = asyncio.create_task(rig.matrix.vend("A1"))
    await asyncio.sleep(0.05)
    assert len(rig.outputs_on()) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.outputs_on() == []


async def test_stop_all_switches_off_and_ends_the_vend(rig: Rig) -> None:
    rig.sim.inject("A1", "jam_turn")
    task = asyncio.create_task(rig.matrix.vend("A1"))
    await asyncio.sleep(0.05)
    await rig.matrix.stop_all()
    assert rig.outputs_on() == []
    result = await asyncio.wait_for(task, 0.1)
    assert result.outcome is VendOutcome.JAM_TURN
    assert rig.world.spirals["A1"] == ["cola", "cola"]
