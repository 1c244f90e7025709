"""MatrixKeypad against SimKeypad on mock pins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from gpiozero.pins.mock import MockFactory

from drivers.gpio.keypad import MatrixKeypad
from simulators.gpio.keypad import SimKeypad

ROWS, COLUMNS = (17, 27, 22, 10), (9, 11, 0, 1)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def panel(pins: MockFactory) -> AsyncIterator[tuple[MatrixKeypad, SimKeypad, list[str]]]:
    keypad = MatrixKeypad(row_pins=ROWS, column_pins=COLUMNS, pin_factory=pins,
                          scan_interval_s=0.005)
    sim = SimKeypad(pins, row_pins=ROWS, column_pins=COLUMNS, hold_s=0.04, gap_s=0.03)
    keys: list[str] = []
    keypad.set_handler(keys.append)
    await sim.start()
    await keypad.start()
    try:
        yield keypad, sim, keys
    finally:
        await keypad.close()
        await sim.close()


async def test_sequence_gives_each_key_once(
        panel: tuple[MatrixKeypad, SimKeypad, list[str]]) -> None:
    _, sim, keys = panel
    await sim.press("A1*")
    assert keys == ["A", "1", "*"]


async def test_every_key_reads_back(panel: tuple[MatrixKeypad, SimKeypad, list[str]]) -> None:
    _, sim, keys = panel
    await sim.press("0123456789ABCD*#")
    assert "".join(keys) == "0123456789ABCD*#"


async def test_held_key_does_not_repeat(
        panel: tuple[MatrixKeypad, SimKeypad, list[str]]) -> None:
    _, sim, keys = panel
    sim.hold("5")
    await asyncio.sleep(0.15)
    sim.release("5")
    await asyncio.sleep(0.05)
    assert keys == ["5"]


async def test_a_blip_shorter_than_the_debounce_is_ignored(pins: MockFactory) -> None:
    keypad = MatrixKeypad(row_pins=ROWS, column_pins=COLUMNS, pin_factory=pins,
                          scan_interval_s=0.05, debounce_scans=2)
    sim = SimKeypad(pins, row_pins=ROWS, column_pins=COLUMNS, hold_s=0.15, gap_s=0.03)
    keys: list[str] = []
    keypad.set_handler(keys.append)
    await sim.start()
    await keypad.start()
    try:
        rows = [pins.pin(r) for r in ROWS]
        at_rest = sum(len(p.states) for p in rows)
        sim.hold("7")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        while sum(len(p.states) for p in rows) == at_rest:  # until one scan has read it
            assert loop.time() < deadline, "the keypad never scanned"
            await asyncio.sleep(0.002)
        sim.release("7")  # gone before the next scan, 50 ms later
        await asyncio.sleep(0.2)
        assert keys == []
        await sim.press("7")  # held for three scans: counted
        assert keys == ["7"]
    finally:
        await keypad.close()
        await sim.close()


async def test_rows_driven_at_rest_and_high_when_closed(pins: MockFactory) -> None:
    keypad = MatrixKeypad(row_pins=ROWS, column_pins=COLUMNS, pin_factory=pins)
    await keypad.start()
    await asyncio.sleep(0.02)
    assert keypad.scan() == set()
    assert not any(pins.pin(r).state for r in ROWS)  # active low: all driven, waiting for an edge
    await keypad.close()
    assert all(pins.pin(r).state for r in ROWS)  # closed: released, high


async def test_no_scan_at_rest(panel: tuple[MatrixKeypad, SimKeypad, list[str]],
                               pins: MockFactory) -> None:
    _, sim, keys = panel
    await sim.press("9")
    await asyncio.sleep(0.05)
    rows = [pins.pin(r) for r in ROWS]
    changes = sum(len(p.states) for p in rows)
    await asyncio.sleep(0.1)  # twenty scan intervals
    assert sum(len(p.states) for p in rows) == changes  # no row moved: nothing scanned
    await sim.press("4")
    assert keys == ["9", "4"]


async def test_a_key_held_when_started_is_seen(pins: MockFactory) -> None:
    keypad = MatrixKeypad(row_pins=ROWS, column_pins=COLUMNS, pin_factory=pins,
                          scan_interval_s=0.005)
    sim = SimKeypad(pins, row_pins=ROWS, column_pins=COLUMNS)
    keys: list[str] = []
    keypad.set_handler(keys.append)
    await sim.start()
    sim.hold("B")
    await keypad.start()
    try:
        await asyncio.sleep(0.05)
        assert keys == ["B"]
    finally:
        sim.release("B")
        await keypad.close()
        await sim.close()
