"""The built-in simulated machine's GPIO side, end to end on one mock factory."""

from __future__ import annotations

import time

import pytest

from simulators.gpio.machine_pins import MachinePins, build_gpio_machine
from simulators.world import SimWorld

pytestmark = pytest.mark.asyncio


async def test_default_pins_do_not_collide() -> None:
    pins = MachinePins()
    pins.check()
    assert len(pins.all()) == 26
    assert not {14, 15} & set(pins.all())  # the ccTalk UART
    with pytest.raises(ValueError, match="used twice"):
        MachinePins(cam=5).check()


async def test_vend_keys_and_display_work_together() -> None:
    slots = [f"{r}{c}" for r in "ABCD" for c in range(1, 7)]
    world = SimWorld(spirals={s: [] for s in slots})
    world.load_spiral("D6", "water", 1)
    gpio = build_gpio_machine(world)
    keys: list[str] = []
    gpio.keypad.set_handler(keys.append)
    try:
        await gpio.start_simulators()
        for device in (gpio.spirals, gpio.keypad, gpio.display):
            await device.start()
        assert gpio.spirals.slots == tuple(slots)
        started = time.monotonic()
        result = await gpio.spirals.vend("D6")
        assert result.delivered and world.tray == ["water"]
        assert time.monotonic() - started < 0.5
        await gpio.sim_keypad.press("D6#")
        assert keys == ["D", "6", "#"]
        await gpio.display.show("CREDIT 1.20", "SELECT ITEM")
        assert gpio.sim_lcd.lines == ["CREDIT 1.20     ", "SELECT ITEM     "]
    finally:
        for device in (gpio.display, gpio.keypad, gpio.spirals):
            await device.close()
        await gpio.close()
