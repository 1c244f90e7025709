"""The GPIO side of the built-in simulated machine: pins, drivers and simulators.

Default pin assignment (BCM numbers), 26 pins, none shared; 14 and 15 stay free
for the ccTalk UART:

| what | pins |
|---|---|
| spiral rows A, B, C, D (outputs, high-side) | 5, 6, 12, 13 |
| spiral columns 1..6 (outputs, low-side) | 16, 19, 20, 21, 26, 4 |
| cam (home) switch, shared, active low | 3 |
| drop sensor beam, active low | 2 |
| keypad rows (outputs, active low) | 17, 27, 22, 10 |
| keypad columns (inputs, pull-up) | 9, 11, 0, 1 |
| LCD RS, E | 7, 8 |
| LCD D4, D5, D6, D7 | 25, 24, 23, 18 |

GPIO 2 and 3 have fixed pull-ups on a Pi, which suits the two active-low
sensor inputs.  ``build_gpio_machine`` makes one ``sim_pin_factory()`` and
builds on it the real drivers (``GpioSpiralMatrix``, ``MatrixKeypad``,
``Hd44780Display``) and their simulators (``SimSpiralMechanics``,
``SimKeypad``, ``SimLcd``) on the same pins.  Mechanical timings are short
(a vend takes about 0.2 s) but real in shape.

What it does not build: the coin acceptor and hoppers (the built-in machine
uses ccTalk for those; see ``simulators.cctalk``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from drivers.gpio.keypad import MatrixKeypad
from drivers.gpio.lcd import Hd44780Display
from drivers.gpio.spiral import GpioSpiralMatrix
from simulators.gpio.keypad import SimKeypad
from simulators.gpio.lcd import SimLcd
from simulators.gpio.pins import sim_pin_factory
from simulators.gpio.spiral import SimSpiralMechanics
from simulators.world import SimWorld


@dataclass(frozen=True, slots=True)
class MachinePins:
    """BCM pin numbers of the simulated machine's GPIO devices."""

    spiral_rows: tuple[int, ...] = (5, 6, 12, 13)
    spiral_row_names: str = "ABCD"
    spiral_columns: tuple[int, ...] = (16, 19, 20, 21, 26, 4)
    cam: int = 3
    drop: int = 2
    keypad_rows: tuple[int, ...] = (17, 27, 22, 10)
    keypad_columns: tuple[int, ...] = (9, 11, 0, 1)
    lcd_rs: int = 7
    lcd_e: int = 8
    lcd_data: tuple[int, ...] = (25, 24, 23, 18)

    def all(self) -> list[int]:
        return [*self.spiral_rows, *self.spiral_columns, self.cam, self.drop,
                *self.keypad_rows, *self.keypad_columns, self.lcd_rs, self.lcd_e,
                *self.lcd_data]

    def check(self) -> None:
        pins = self.all()
        shared = sorted({p for p in pins if pins.count(p) > 1})
        if shared:
            raise ValueError(f"pins used twice: {shared}")


@dataclass(frozen=True, slots=True)
class SimTimings:
    """Short mechanical timings of the simulated machine, and the driver limits to match."""

    leave_home_s: float = 0.02
    turn_s: float = 0.15
    fall_s: float = 0.02
    beam_s: float = 0.02
    leave_home_timeout_s: float = 0.3
    turn_timeout_s: float = 0.6
    drop_wait_s: float = 0.2
    nudges: int = 3
    key_hold_s: float = 0.05
    key_gap_s: float = 0.05
    key_scan_s: float = 0.01


@dataclass
class GpioSimulators:
    """The simulated side of the GPIO devices, on one mock pin factory."""

    factory: MockFactory
    spirals: SimSpiralMechanics
    keypad: SimKeypad
    lcd: SimLcd
    _closed: bool = field(default=False, repr=False)

    async def start(self) -> None:
        await self.spirals.start()
        await self.keypad.start()
        await self.lcd.start()

    async def close(self) -> None:
        """Stop the simulators and release the factory (after the drivers closed)."""
        if self._closed:
            return
        self._closed = True
        for sim in (self.lcd, self.keypad, self.spirals):
            await sim.close()
        self.factory.reset()
        self.factory.close()


def build_gpio_simulators(world: SimWorld, *, pins: MachinePins, timings: SimTimings,
                          factory: MockFactory) -> GpioSimulators:
    """The spiral mechanics, keypad and LCD simulators on ``factory`` (nothing started)."""
    pins.check()
    t = timings
    return GpioSimulators(
        factory=factory,
        spirals=SimSpiralMechanics(
            factory, world, row_pins=pins.spiral_rows, column_pins=pins.spiral_columns,
            cam_pin=pins.cam, drop_pin=pins.drop, row_names=pins.spiral_row_names,
            leave_home_s=t.leave_home_s, turn_s=t.turn_s, fall_s=t.fall_s, beam_s=t.beam_s),
        keypad=SimKeypad(factory, row_pins=pins.keypad_rows, column_pins=pins.keypad_columns,
                         hold_s=t.key_hold_s, gap_s=t.key_gap_s),
        lcd=SimLcd(factory, rs_pin=pins.lcd_rs, e_pin=pins.lcd_e, data_pins=pins.lcd_data),
    )


@dataclass
class GpioMachine:
    """Both sides of the GPIO devices on one mock pin factory.

    The controller owns the drivers' life cycle (``start``/``close`` through
    ``Devices``); ``start_simulators`` and ``close`` are for the simulated side,
    ``close`` also releases the factory.
    """

    factory: MockFactory
    pins: MachinePins
    spirals: GpioSpiralMatrix
    keypad: MatrixKeypad
    display: Hd44780Display
    sim_spirals: SimSpiralMechanics
    sim_keypad: SimKeypad
    sim_lcd: SimLcd
    _closed: bool = field(default=False, repr=False)

    async def start_simulators(self) -> None:
        await self.sim_spirals.start()
        await self.sim_keypad.start()
        await self.sim_lcd.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sim in (self.sim_lcd, self.sim_keypad, self.sim_spirals):
            await sim.close()
        self.factory.reset()
        self.factory.close()


def build_gpio_machine(world: SimWorld, *, pins: MachinePins | None = None,
                       timings: SimTimings | None = None,
                       factory: MockFactory | None = None) -> GpioMachine:
    """Real drivers and their simulators on one mock pin factory (no pin opened yet): the
    rig of the driver tests.  The machine itself builds its drivers from its config
    (``controller.devices``) on the factory of ``build_gpio_simulators``."""
    pins = pins or MachinePins()
    t = timings or SimTimings()
    pins.check()
    factory = factory or sim_pin_factory()
    return GpioMachine(
        factory=factory,
        pins=pins,
        spirals=GpioSpiralMatrix(
            row_pins=pins.spiral_rows, column_pins=pins.spiral_columns, cam_pin=pins.cam,
            drop_pin=pins.drop, row_names=pins.spiral_row_names, pin_factory=factory,
            leave_home_timeout_s=t.leave_home_timeout_s, turn_timeout_s=t.turn_timeout_s,
            drop_wait_s=t.drop_wait_s, nudges=t.nudges),
        keypad=MatrixKeypad(row_pins=pins.keypad_rows, column_pins=pins.keypad_columns,
                            pin_factory=factory, scan_interval_s=t.key_scan_s),
        display=Hd44780Display(rs_pin=pins.lcd_rs, e_pin=pins.lcd_e, data_pins=pins.lcd_data,
                               pin_factory=factory, power_on_delay_s=0.001, byte_delay_s=0),
        sim_spirals=SimSpiralMechanics(
            factory, world, row_pins=pins.spiral_rows, column_pins=pins.spiral_columns,
            cam_pin=pins.cam, drop_pin=pins.drop, row_names=pins.spiral_row_names,
            leave_home_s=t.leave_home_s, turn_s=t.turn_s, fall_s=t.fall_s, beam_s=t.beam_s),
        sim_keypad=SimKeypad(factory, row_pins=pins.keypad_rows,
                             column_pins=pins.keypad_columns, hold_s=t.key_hold_s,
                             gap_s=t.key_gap_s),
        sim_lcd=SimLcd(factory, rs_pin=pins.lcd_rs, e_pin=pins.lcd_e, data_pins=pins.lcd_data),
    )
