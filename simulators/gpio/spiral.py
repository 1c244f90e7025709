"""Simulated spiral mechanics behind GpioSpiralMatrix's pins.

Watches the row and column outputs.  When exactly one row and one column are
on, that spiral turns: the shared cam line opens after ``leave_home_s``,
closes again ``turn_s`` later, and at the end of the turn the front product
of ``world.spirals[slot]`` falls (``world.drop_product``) and breaks the drop
beam for ``beam_s`` after ``fall_s``.  Power removed mid-turn stops the spiral
where it is (cam off home); the next power finishes the turn.

Faults per slot (``inject``): ``"jam"`` the motor stalls at home (cam never
opens), ``"jam_turn"`` it stalls mid-turn (cam opens, never closes),
``"no_drop"`` it turns but the product hangs, ``"clear"`` removes the fault.

Input levels: cam and drop lines are active low (switch or sensor to 0 V, the
driver's pull-up), so "home" and "beam broken" are driven low.

What it does not model: motor inertia, several products falling in one turn,
a product that falls late on its own, current drawn by two motors at once
(logged as ``"violation"`` instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from gpiozero.pins.mock import MockFactory

from simulators.gpio.pins import SimLog, SimPin, sim_pin
from simulators.world import SimWorld

SPIRAL_FAULTS = ("jam", "jam_turn", "no_drop", "clear")


class SimSpiralMechanics:
    """The motors, cam switch and drop beam of a spiral matrix, on mock pins."""

    def __init__(self, factory: MockFactory, world: SimWorld, *, row_pins: Sequence[int],
                 column_pins: Sequence[int], cam_pin: int, drop_pin: int,
                 row_names: str = "ABCD", leave_home_s: float = 0.03, turn_s: float = 0.2,
                 fall_s: float = 0.03, beam_s: float = 0.02) -> None:
        self.world = world
        self.log = SimLog()
        self.leave_home_s = leave_home_s
        self.turn_s = turn_s
        self.fall_s = fall_s
        self.beam_s = beam_s
        self._rows = [sim_pin(factory, p) for p in row_pins]
        self._columns = [sim_pin(factory, p) for p in column_pins]
        self._names = {(r, c): f"{name}{c + 1}" for r, name in enumerate(row_names)
                       for c in range(len(column_pins))}
        self._cam = sim_pin(factory, cam_pin)
        self._drop = sim_pin(factory, drop_pin)
        self.faults: dict[str, str] = {}
        self.turns: dict[str, int] = {}  # completed turns per slot
        self._home = True
        self._turning: str | None = None
        self._timers: list[asyncio.TimerHandle] = []  # cam movements: stop with the power
        self._falling: list[asyncio.TimerHandle] = []  # a product in the air keeps falling
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._cam.drive(not self._home)  # home = switch closed = low
        self._drop.drive(True)
        for pin in (*self._rows, *self._columns):
            pin.add_listener(self._on_output)

    async def close(self) -> None:
        for pin in (*self._rows, *self._columns):
            pin.remove_listener(self._on_output)
        self._cancel_timers(falling=True)

    def inject(self, slot: str, fault: str) -> None:
        if fault not in SPIRAL_FAULTS:
            raise ValueError(f"unknown spiral fault {fault!r}; one of {SPIRAL_FAULTS}")
        if slot not in self._names.values():
            raise ValueError(f"no slot {slot!r}")
        if fault == "clear":
            self.faults.pop(slot, None)
        else:
            self.faults[slot] = fault
        self.log.add("fault", f"{slot} {fault}")

    @property
    def cam_home(self) -> bool:
        return self._home

    # --- watching the driver ---------------------------------------------------

    def _on_output(self, _pin: SimPin) -> None:
        rows = [i for i, p in enumerate(self._rows) if p.output_level]
        columns = [i for i, p in enumerate(self._columns) if p.output_level]
        self.log.add("outputs", f"rows={rows} columns={columns}")
        if len(rows) > 1 or len(columns) > 1:
            self.log.add("violation", f"more than one motor powered: rows={rows} columns={columns}")
        powered = self._names[(rows[0], columns[0])] if len(rows) == 1 == len(columns) else None
        if powered == self._turning:
            return
        if self._turning is not None:
            self._stop_turning()
        if powered is not None:
            self._start_turning(powered)

    def _start_turning(self, slot: str) -> None:
        self._turning = slot
        self.log.add("power", slot)
        fault = self.faults.get(slot)
        if fault == "jam":
            self.log.add("stall", f"{slot} at home")
            return
        if self._home:
            self._after(self.leave_home_s, self._leave_home, slot)
        else:
            self._leave_home(slot)  # finishing a turn a power cut interrupted

    def _stop_turning(self) -> None:
        self.log.add("unpower", f"{self._turning} cam {'home' if self._home else 'off home'}")
        self._turning = None
        self._cancel_timers()

    def _leave_home(self, slot: str) -> None:
        self._set_home(False)
        if self.faults.get(slot) == "jam_turn":
            self.log.add("stall", f"{slot} mid-turn")
            return
        self._after(self.turn_s, self._return_home, slot)

    def _return_home(self, slot: str) -> None:
        self._set_home(True)
        self.turns[slot] = self.turns.get(slot, 0) + 1
        self.log.add("turned", slot)
        if self.faults.get(slot) == "no_drop":
            self.log.add("hangs", slot)
            return
        self._after(self.fall_s, self._product_falls, slot, motion=False)

    def _product_falls(self, slot: str) -> None:
        name = self.world.drop_product(slot)
        if name is None:
            self.log.add("empty", slot)
            return
        self.log.add("drop", f"{slot} {name}")
        self._drop.drive(False)  # beam broken
        self._after(self.beam_s, self._beam_clear, slot, motion=False)

    def _beam_clear(self, _slot: str) -> None:
        self._drop.drive(True)

    def _set_home(self, home: bool) -> None:
        self._home = home
        self.log.add("cam", "home" if home else "off home")
        self._cam.drive(not home)

    # --- timers -----------------------------------------------------------------

    def _after(self, delay_s: float, action: Callable[[str], None], slot: str, *,
               motion: bool = True) -> None:
        """Run ``action`` later; motion timers stop with the power, a falling product does not."""
        loop = self._loop or asyncio.get_running_loop()
        timers = self._timers if motion else self._falling
        timers[:] = [t for t in timers if not t.cancelled() and t.when() > loop.time()]
        timers.append(loop.call_later(delay_s, action, slot))

    def _cancel_timers(self, *, falling: bool = False) -> None:
        for timer in (*self._timers, *(self._falling if falling else ())):
            timer.cancel()
        self._timers.clear()
        if falling:
            self._falling.clear()
