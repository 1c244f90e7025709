"""Simulated pulse hopper on mock pins.

While the driver's motor output is on, a coin leaves every ``coin_interval_s``
(``world.take_coin_from_hopper``: into the cup) and the exit sensor pin is
pulled low for ``exit_pulse_s``.  An empty hopper turns without paying.

Faults (``inject``): ``"empty"`` pays nothing whatever the world holds,
``"jam"`` the motor stalls and pays nothing, ``"late_coin"`` the next time the
motor stops, one more coin (if there is one) exits ``late_s`` later, like a
coin already in the exit; ``"clear"`` removes every fault.

What it does not model: motor spin-up time, coins of the wrong value, the
coin level in the hopper as a sensor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from gpiozero.pins.mock import MockFactory

from simulators.gpio.pins import SimLog, SimPin, sim_pin
from simulators.world import SimWorld

HOPPER_FAULTS = ("empty", "jam", "late_coin", "clear")


class SimPulseHopper:
    """The motor and exit sensor of one pulse hopper."""

    FAULTS: ClassVar[frozenset[str]] = frozenset(HOPPER_FAULTS) - {"clear"}

    def __init__(self, factory: MockFactory, world: SimWorld, coin: int, *, motor_pin: int,
                 exit_pin: int, coin_interval_s: float = 0.1, exit_pulse_s: float = 0.03,
                 late_s: float = 0.3) -> None:
        if exit_pulse_s >= coin_interval_s:
            raise ValueError("the exit pulse must end before the next coin")
        self.world = world
        self.coin = coin
        self.log = SimLog()
        self.coin_interval_s = coin_interval_s
        self.exit_pulse_s = exit_pulse_s
        self.late_s = late_s
        self.faults: set[str] = set()
        self.paid = 0
        self._motor = sim_pin(factory, motor_pin)
        self._exit = sim_pin(factory, exit_pin)
        self._running: asyncio.TimerHandle | None = None
        self._pulses: list[asyncio.TimerHandle] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit.drive(True)  # beam clear
        self._motor.add_listener(self._on_motor)

    async def close(self) -> None:
        self._motor.remove_listener(self._on_motor)
        self._halt()
        for timer in self._pulses:
            timer.cancel()
        self._exit.drive(True)

    def inject(self, fault: str) -> None:
        if fault not in HOPPER_FAULTS:
            raise ValueError(f"unknown hopper fault {fault!r}; one of {HOPPER_FAULTS}")
        if fault == "clear":
            self.faults.clear()
        else:
            self.faults.add(fault)
        self.log.add("fault", fault)

    def _on_motor(self, pin: SimPin) -> None:
        if pin.output_level and self._running is None:
            self.log.add("motor", "on")
            self._running = self._call_later(self.coin_interval_s, self._next_coin)
        elif not pin.output_level and self._running is not None:
            self.log.add("motor", "off")
            self._halt()
            if "late_coin" in self.faults:
                self.faults.discard("late_coin")
                self._call_later(self.late_s, self._pay_one)

    def _halt(self) -> None:
        if self._running is not None:
            self._running.cancel()
            self._running = None

    def _next_coin(self) -> None:
        if "jam" in self.faults:
            self.log.add("stall")
        else:
            self._pay_one()
        self._running = self._call_later(self.coin_interval_s, self._next_coin)

    def _pay_one(self) -> None:
        if "empty" in self.faults or not self.world.take_coin_from_hopper(self.coin):
            self.log.add("no coin")
            return
        self.paid += 1
        self.log.add("coin", str(self.coin))
        self._exit.drive(False)
        self._pulses = [t for t in self._pulses if not t.cancelled()]
        self._pulses.append(self._call_later(self.exit_pulse_s, self._exit.drive, True))

    def _call_later(self, delay_s: float, action: Callable[..., object],
                    *args: object) -> asyncio.TimerHandle:
        loop = self._loop or asyncio.get_running_loop()
        return loop.call_later(delay_s, action, *args)
