"""Hd44780Display against SimLcd on mock pins."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory

from drivers.errors import HardwareError
from drivers.gpio.lcd import Hd44780Display, to_rom
from simulators.gpio.lcd import SimLcd

RS, E, DATA = 7, 8, (25, 24, 23, 18)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def lcd(pins: MockFactory) -> AsyncIterator[tuple[Hd44780Display, SimLcd]]:
    sim = SimLcd(pins, rs_pin=RS, e_pin=E, data_pins=DATA)
    display = Hd44780Display(rs_pin=RS, e_pin=E, data_pins=DATA, pin_factory=pins,
                             power_on_delay_s=0.001, byte_delay_s=0)
    await sim.start()
    await display.start()
    try:
        yield display, sim
    finally:
        await display.close()
        await sim.close()


async def test_init_sequence(lcd: tuple[Hd44780Display, SimLcd]) -> None:
    _, sim = lcd
    assert sim.nibbles[:4] == [0x3, 0x3, 0x3, 0x2]  # the bytes 0x33, 0x32
    assert sim.instructions == [0x30, 0x30, 0x30, 0x20, 0x28, 0x0C, 0x01, 0x06]
    assert not sim.eight_bit and sim.two_lines and sim.display_on
    assert sim.lines == [" " * 16, " " * 16]


async def test_show_decodes_back_exactly(lcd: tuple[Hd44780Display, SimLcd]) -> None:
    display, sim = lcd
    await display.show("CREDIT 1.20", "SELECT ITEM")
    assert sim.lines == ["CREDIT 1.20     ", "SELECT ITEM     "]


async def test_lines_are_cut_padded_and_replaced(lcd: tuple[Hd44780Display, SimLcd]) -> None:
    display, sim = lcd
    await display.show("A VERY LONG LINE THAT IS CUT", "Preis 1,20 €")
    assert sim.lines == ["A VERY LONG LINE", "Preis 1,20 ?    "]
    await display.show("ONLY ONE")
    assert sim.lines == ["ONLY ONE        ", " " * 16]


async def test_only_changes_are_written(lcd: tuple[Hd44780Display, SimLcd]) -> None:
    display, sim = lcd
    await display.show("CREDIT 1.20", "SELECT ITEM")
    sim.log.clear()
    await display.show("CREDIT 1.25", "SELECT ITEM")
    assert [e.detail for e in sim.log.entries("data")] == ["35"]  # "5"
    assert sim.lines[0] == "CREDIT 1.25     "
    sim.log.clear()
    await display.show("CREDIT 1.25", "SELECT ITEM")
    assert sim.log.entries("data") == []


def strobe_one_nibble(pins: MockFactory, nibble: int) -> None:
    """Put ``nibble`` on D4..D7 and strobe E once, through gpiozero's public outputs."""
    rs, e, *data = (DigitalOutputDevice(p, pin_factory=pins) for p in (RS, E, *DATA))
    try:
        for bit, line in enumerate(data):
            line.value = nibble >> bit & 1
        e.on()
        e.off()  # the display latches on the falling edge
    finally:
        for line in (rs, e, *data):
            line.close()


async def test_restart_half_way_through_a_byte_resyncs(
        pins: MockFactory, lcd: tuple[Hd44780Display, SimLcd]) -> None:
    display, sim = lcd
    await display.show("BEFORE", "")
    await display.close()
    latched = len(sim.nibbles)
    strobe_one_nibble(pins, 0xA)  # the process died half way through a byte
    assert len(sim.nibbles) == latched + 1  # the display holds half a byte
    again = Hd44780Display(rs_pin=RS, e_pin=E, data_pins=DATA, pin_factory=pins,
                           power_on_delay_s=0.001, byte_delay_s=0)
    await again.start()  # the controller kept power: 4-bit mode, a nibble pending
    await again.show("AFTER", "RESTART")
    assert sim.lines == ["AFTER           ", "RESTART         "]
    await again.close()


async def test_to_rom() -> None:
    assert to_rom("ok ~\\ é") == "ok ?? ?"


async def test_show_before_start_is_refused(pins: MockFactory) -> None:
    display = Hd44780Display(rs_pin=RS, e_pin=E, data_pins=DATA, pin_factory=pins)
    with pytest.raises(HardwareError):
        await display.show("HELLO")
