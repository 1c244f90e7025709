"""Spiral motors in a row x column matrix on GPIO, with cam switch and drop sensor.

A motor turns when its row output and its column output are both on (row
high-side, column low-side driver).  Only one row and one column are ever on
together, so only one motor can turn: ``_energise`` switches everything off
and checks that before it powers a new motor, and a lock keeps vends apart.

The cam (home) switches of all motors share one input.  They are wired in
series, each closed while its motor is at home, so the shared line reads
"home" only when every motor is home.  Because only the selected motor is
powered, the line follows that motor: it opens when the motor leaves home and
closes again when the turn completes.  A motor left off home by a power cut
is finished by the next vend of any slot in that position (the driver sees
the line already open and waits for home).

The optical drop sensor across the delivery bin reads active while the beam
is broken; a break seen at any time during a vend (any turn, any drop wait)
counts as delivered.

Safety: every motor output has a maximum on-time enforced by its own
``loop.call_later`` timer (``OutputLine``), independent of the vend
coroutine; outputs go off in ``finally`` on every path, in ``stop_all()`` and
in ``close()``.

What it does not model: motor current sensing, per-motor cam inputs, a
product stuck in the bin (the drop sensor only sees it fall).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from gpiozero.pins import Factory

from drivers.base import SpiralMatrix, VendOutcome, VendResult
from drivers.errors import HardwareError, NotStarted, UnknownSlot
from drivers.gpio.lines import InputLine, OutputLine, check_distinct_pins

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """The turn was ended by stop_all() or a maximum on-time trip."""


class GpioSpiralMatrix(SpiralMatrix):
    """Spiral motor matrix: slots ``<row letter><column number>`` (A1..D6)."""

    def __init__(self, *, row_pins: Sequence[int], column_pins: Sequence[int], cam_pin: int,
                 drop_pin: int, row_names: str = "ABCD", pin_factory: Factory | None = None,
                 leave_home_timeout_s: float = 1.0, turn_timeout_s: float = 4.0,
                 drop_wait_s: float = 1.0, nudges: int = 3,
                 max_on_s: float | None = None) -> None:
        if len(row_names) != len(row_pins) or not row_pins or not column_pins:
            raise ValueError("one row name per row pin, at least one row and one column")
        if min(leave_home_timeout_s, turn_timeout_s, drop_wait_s) <= 0 or nudges < 0:
            raise ValueError("spiral timings must be positive and nudges >= 0")
        check_distinct_pins("spiral matrix", [*row_pins, *column_pins, cam_pin, drop_pin])
        self.leave_home_timeout_s = leave_home_timeout_s
        self.turn_timeout_s = turn_timeout_s
        self.drop_wait_s = drop_wait_s
        self.nudges = nudges
        on_limit = max_on_s if max_on_s is not None else leave_home_timeout_s + turn_timeout_s + 1.0
        self._rows = [OutputLine(p, name=f"spiral row {n}", max_on_s=on_limit,
                                 pin_factory=pin_factory)
                      for n, p in zip(row_names, row_pins, strict=True)]
        self._columns = [OutputLine(p, name=f"spiral column {i + 1}", max_on_s=on_limit,
                                    pin_factory=pin_factory) for i, p in enumerate(column_pins)]
        self._cam = InputLine(cam_pin, name="cam switch", pin_factory=pin_factory)
        self._drop = InputLine(drop_pin, name="drop sensor", pin_factory=pin_factory)
        self.slots = tuple(f"{r}{c + 1}" for r in row_names for c in range(len(column_pins)))
        self._address = {f"{r}{c + 1}": (i, c) for i, r in enumerate(row_names)
                         for c in range(len(column_pins))}
        self._lock = asyncio.Lock()
        self._cam_changed = asyncio.Event()
        self._cam_left = False  # latched: the cam opened since the motor was powered
        self._cam_back = False  # latched: the cam closed after it opened
        self._drop_seen = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = False
        self._vend_started_at = float("inf")  # drop edges before a vend are not its product
        self._powered_at = float("inf")

    # --- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for line in self._outputs():
                line.open(loop, self._on_trip)
            self._cam.open(loop, self._on_cam)
            self._drop.open(loop, self._on_drop)
        except BaseException:
            await self.close()
            raise
        self._started = True

    async def close(self) -> None:
        self._all_off()
        for line in self._outputs():
            line.close()
        self._cam.close()
        self._drop.close()
        self._started = False

    async def stop_all(self) -> None:
        self._all_off()
        self._stop_waiting()

    def _stop_waiting(self) -> None:
        self._stopped.set()
        self._cam_changed.set()  # wake a turn waiting for the cam

    # --- edges (on the loop) -----------------------------------------------

    def _on_cam(self, home: bool, t: float) -> None:
        if t < self._powered_at:
            return  # an edge from before this turn, delivered late
        if not home:
            self._cam_left = True
        elif self._cam_left:
            self._cam_back = True
        self._cam_changed.set()

    def _on_drop(self, broken: bool, t: float) -> None:
        if broken and t >= self._vend_started_at:
            self._drop_seen.set()

    def _on_trip(self, line: OutputLine) -> None:
        self._all_off()  # the other half of the motor too
        self._stop_waiting()

    # --- vending -------------------------------------------------------------

    async def vend(self, slot: str) -> VendResult:
        if slot not in self._address:
            raise UnknownSlot(f"no spiral slot {slot!r}")
        if not self._started:
            raise NotStarted("spiral matrix not started")
        row, column = self._address[slot]
        async with self._lock:
            self._drop_seen.clear()
            self._stopped.clear()
            self._vend_started_at = time.monotonic()
            turns = 0
            for _ in range(1 + self.nudges):
                if self._stopped.is_set():
                    return VendResult(slot, VendOutcome.NO_DROP, turns, "stopped before a drop")
                turns += 1
                jam = await self._turn(row, column)
                if self._drop_seen.is_set():
                    detail = f"{jam.value} after the drop" if jam else ""
                    return VendResult(slot, VendOutcome.DELIVERED, turns, detail)
                if jam is not None:
                    return VendResult(slot, jam, turns, self._jam_detail(jam))
                if await self._wait_drop():
                    return VendResult(slot, VendOutcome.DELIVERED, turns)
            return VendResult(slot, VendOutcome.NO_DROP, turns, "no beam break after the turns")

    def _jam_detail(self, jam: VendOutcome) -> str:
        if self._stopped.is_set():
            return "motor switched off by stop_all or the maximum on-time"
        if jam is VendOutcome.JAM_HOME:
            return f"cam did not leave home within {self.leave_home_timeout_s} s"
        return f"cam did not return home within {self.turn_timeout_s} s"

    async def _wait_drop(self) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.drop_wait_s):
                await self._drop_seen.wait()
        return self._drop_seen.is_set()

    async def _turn(self, row: int, column: int) -> VendOutcome | None:
        """One revolution; None when the cam left and came back home in time."""
        self._powered_at = time.monotonic()
        self._cam_left = not self._cam.is_active  # already off home: finish that turn
        self._cam_back = False
        try:
            self._energise(row, column)
            if not await self._wait_cam(lambda: self._cam_left, self.leave_home_timeout_s):
                return VendOutcome.JAM_HOME
            if not await self._wait_cam(lambda: self._cam_back, self.turn_timeout_s):
                return VendOutcome.JAM_TURN
            return None
        finally:
            self._all_off()

    async def _wait_cam(self, done: Callable[[], bool], timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                while not done():
                    if self._stopped.is_set():
                        raise _Stopped
                    self._cam_changed.clear()
                    await self._cam_changed.wait()
        except (TimeoutError, _Stopped):
            return done()
        return True

    # --- outputs ----------------------------------------------------------------

    def _outputs(self) -> list[OutputLine]:
        return [*self._rows, *self._columns]

    def _energise(self, row: int, column: int) -> None:
        self._all_off()
        if any(line.is_on for line in self._outputs()):
            raise HardwareError("a spiral output stayed on: refusing to power another motor")
        self._rows[row].on()
        self._columns[column].on()

    def _all_off(self) -> None:
        for line in self._outputs():
            try:
                line.off()
            except Exception:  # one failing pin must not keep the others on
                log.exception("could not switch off %s", line.name)


