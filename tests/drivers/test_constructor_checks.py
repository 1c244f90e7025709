"""One rule for every driver constructor: a bad argument is a ValueError, and
constructing opens no pin and no port (drivers/errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.exc import GPIOPinInUse
from gpiozero.pins.mock import MockFactory

from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.hopper import CctalkHopper
from drivers.cctalk.link import CctalkLink
from drivers.errors import NotStarted
from drivers.gpio.keypad import MatrixKeypad
from drivers.gpio.lcd import Hd44780Display
from drivers.gpio.lines import OutputLine
from drivers.gpio.pulse_acceptor import PulseCoinAcceptor
from drivers.gpio.pulse_hopper import PulseHopper
from drivers.gpio.spiral import GpioSpiralMatrix

Build = Callable[[MockFactory], Any]
LINK = CctalkLink("/nonexistent/tty-never-opened")
SPIRAL: dict[str, Any] = dict(row_pins=[5, 6], column_pins=[16, 19], cam_pin=3, drop_pin=2,
                              row_names="AB")
KEYPAD: dict[str, Any] = dict(row_pins=[17, 27, 22, 10], column_pins=[9, 11, 0, 1])
LCD: dict[str, Any] = dict(rs_pin=7, e_pin=8, data_pins=[25, 24, 23, 18])


GOOD: dict[str, Build] = {
    "spiral": lambda f: GpioSpiralMatrix(pin_factory=f, **SPIRAL),
    "keypad": lambda f: MatrixKeypad(pin_factory=f, **KEYPAD),
    "lcd": lambda f: Hd44780Display(pin_factory=f, **LCD),
    "pulse acceptor": lambda f: PulseCoinAcceptor(pulse_pin=14, inhibit_pin=15, pin_factory=f),
    "pulse hopper": lambda f: PulseHopper(50, motor_pin=20, exit_pin=21, pin_factory=f),
    "cctalk acceptor": lambda f: CctalkCoinAcceptor(LINK, address=2),
    "cctalk hopper": lambda f: CctalkHopper(LINK, address=3, coin_cents=5),
}

BAD: dict[str, Build] = {
    "spiral pin twice": lambda f: GpioSpiralMatrix(pin_factory=f, **{**SPIRAL, "cam_pin": 16}),
    "spiral timing": lambda f: GpioSpiralMatrix(pin_factory=f, drop_wait_s=0, **SPIRAL),
    "keypad pin twice": lambda f: MatrixKeypad(pin_factory=f,
                                               **{**KEYPAD, "column_pins": [9, 11, 0, 17]}),
    "keypad scan": lambda f: MatrixKeypad(pin_factory=f, scan_interval_s=0, **KEYPAD),
    "lcd pin twice": lambda f: Hd44780Display(pin_factory=f, **{**LCD, "e_pin": 7}),
    "lcd negative pin": lambda f: Hd44780Display(pin_factory=f, **{**LCD, "rs_pin": -1}),
    "lcd delay": lambda f: Hd44780Display(pin_factory=f, byte_delay_s=-1, **LCD),
    "pulse acceptor pin twice": lambda f: PulseCoinAcceptor(pulse_pin=14, inhibit_pin=14,
                                                            pin_factory=f),
    "pulse acceptor retry": lambda f: PulseCoinAcceptor(pulse_pin=14, inhibit_pin=15,
                                                        retry_s=0, pin_factory=f),
    "pulse hopper pin twice": lambda f: PulseHopper(50, motor_pin=20, exit_pin=20,
                                                    pin_factory=f),
    "pulse hopper exit window": lambda f: PulseHopper(50, motor_pin=20, exit_pin=21,
                                                      exit_pulse_min_s=0.3, pin_factory=f),
    "pulse hopper coin": lambda f: PulseHopper(0, motor_pin=20, exit_pin=21, pin_factory=f),
    "cctalk acceptor address": lambda f: CctalkCoinAcceptor(LINK, address=1),
    "cctalk acceptor poll": lambda f: CctalkCoinAcceptor(LINK, poll_interval_s=0),
    "cctalk hopper address": lambda f: CctalkHopper(LINK, address=256, coin_cents=5),
    "cctalk hopper security": lambda f: CctalkHopper(LINK, address=3, coin_cents=5,
                                                     security="des"),  # type: ignore[arg-type]
    "cctalk hopper attempts": lambda f: CctalkHopper(LINK, address=3, coin_cents=5,
                                                     redispense_attempts=-1),
    "link echo": lambda f: CctalkLink("/dev/null", echo="maybe"),  # type: ignore[arg-type]
    "output line max on": lambda f: OutputLine(5, name="motor", max_on_s=0, pin_factory=f),
}


ALL_PINS = sorted({*SPIRAL["row_pins"], *SPIRAL["column_pins"], 3, 2, *KEYPAD["row_pins"],
                   *KEYPAD["column_pins"], 7, 8, *LCD["data_pins"], 14, 15, 20, 21})


def pins_reserved(factory: MockFactory) -> list[int]:
    """The pins a gpiozero device holds now: a fresh output on one of them is refused."""
    held: list[int] = []
    for pin in ALL_PINS:
        try:
            DigitalOutputDevice(pin, pin_factory=factory).close()
        except GPIOPinInUse:
            held.append(pin)
    return held


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_good_constructor_opens_nothing(pins: MockFactory, name: str) -> None:
    GOOD[name](pins)  # the ccTalk drivers' link names a port that does not exist
    assert pins_reserved(pins) == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_argument_is_a_value_error(pins: MockFactory, name: str) -> None:
    with pytest.raises(ValueError):
        BAD[name](pins)
    assert pins_reserved(pins) == []


def test_the_pin_probe_sees_a_held_pin(pins: MockFactory) -> None:
    held = DigitalOutputDevice(7, pin_factory=pins)
    try:
        assert pins_reserved(pins) == [7]
    finally:
        held.close()


def test_an_output_used_before_open_is_not_started(pins: MockFactory) -> None:
    with pytest.raises(NotStarted):
        OutputLine(5, name="motor", pin_factory=pins).on()
