"""4x4 matrix keypad on GPIO: waits for an edge, then scans and debounces in code.

Rows are outputs (active low), columns are inputs with the Pi's pull-ups, so a
pressed key pulls its column low while its row is driven.  At rest every row
is driven and each column has an edge callback (gpiozero's ``when_activated``,
forwarded to the event loop with ``call_soon_threadsafe``): nothing runs until
a key closes.  Then the rows are driven one at a time every
``scan_interval_s`` until every key is released and debounced, and the keypad
goes back to waiting.  A key counts as pressed after ``debounce_scans``
consecutive scans read it pressed, and as released after as many scans read it
released: one event per press, no repeats while it is held.  The handler is
called on the event loop.

What it does not model: ghosting when three keys are held at once (no
diodes: a phantom fourth key may read pressed), key repeat, long presses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from gpiozero.pins import Factory

from drivers.base import KeyHandler, Keypad
from drivers.gpio.lines import InputLine, OutputLine, check_distinct_pins
from drivers.heartbeat import Heartbeat
from drivers.keys import KEYPAD_LAYOUT

log = logging.getLogger(__name__)

DEFAULT_KEYS = KEYPAD_LAYOUT


class MatrixKeypad(Keypad):
    """Rows driven, columns read, debounced key presses to a handler."""

    def __init__(self, *, row_pins: Sequence[int], column_pins: Sequence[int],
                 keys: Sequence[str] = DEFAULT_KEYS, pin_factory: Factory | None = None,
                 scan_interval_s: float = 0.01, debounce_scans: int = 2) -> None:
        if len(keys) != len(row_pins) or any(len(k) != len(column_pins) for k in keys):
            raise ValueError("keys must have one string per row, one character per column")
        if scan_interval_s <= 0 or debounce_scans < 1:
            raise ValueError("scan_interval_s must be positive and debounce_scans >= 1")
        check_distinct_pins("keypad", [*row_pins, *column_pins])
        self.keys = tuple(keys)
        self.scan_interval_s = scan_interval_s
        self.debounce_scans = debounce_scans
        self._rows = [OutputLine(p, name=f"keypad row {i}", active_high=False,
                                 pin_factory=pin_factory) for i, p in enumerate(row_pins)]
        self._columns = [InputLine(p, name=f"keypad column {i}", pin_factory=pin_factory)
                         for i, p in enumerate(column_pins)]
        self._handler: KeyHandler | None = None
        self._streak: dict[str, int] = {}  # + scans read pressed, - scans read released
        self._down: set[str] = set()  # keys reported and not yet released
        self._task: asyncio.Task[None] | None = None
        self._edge = asyncio.Event()  # a column went active while every row was driven
        self.heartbeat: Heartbeat = Heartbeat("keypad-scan")

    def set_handler(self, handler: KeyHandler) -> None:
        self._handler = handler

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for row in self._rows:
                row.open(loop)
            for column in self._columns:
                column.open(loop, self._on_column_edge)
        except BaseException:
            await self.close()
            raise
        self._task = asyncio.create_task(self._watch_forever(), name="keypad watch")

    async def close(self) -> None:
        task, self._task = self._task, None
        self.heartbeat.stopped()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for row in self._rows:
            row.close()
        for column in self._columns:
            column.close()

    def _on_column_edge(self, active: bool, _seen_s: float) -> None:
        if active:
            self._edge.set()

    async def _watch_forever(self) -> None:
        while True:
            for row in self._rows:
                row.on()  # every row driven: any key pulls its column low
            self._edge.clear()
            if not any(column.is_active for column in self._columns):
                self.heartbeat.waiting()  # a key may not come for hours: alive
                await self._edge.wait()
            await self._scan_until_released()

    async def _scan_until_released(self) -> None:
        for row in self._rows:
            row.off()
        while True:
            self.heartbeat.beat()
            self._debounce(self.scan())
            if not self._streak:  # every key released and debounced
                return
            await asyncio.sleep(self.scan_interval_s)

    def scan(self) -> set[str]:
        """The keys that read pressed right now (one pass over the rows, one row
        driven at a time; the rows are left as they were)."""
        driven = [row.is_on for row in self._rows]
        for row in self._rows:
            row.off()
        pressed: set[str] = set()
        for row, labels in zip(self._rows, self.keys, strict=True):
            row.on()
            try:
                pressed.update(label for column, label in zip(self._columns, labels, strict=True)
                               if column.is_active)
            finally:
                row.off()
        for row, was_on in zip(self._rows, driven, strict=True):
            if was_on:
                row.on()
        return pressed

    def _debounce(self, pressed: set[str]) -> None:
        for key in pressed | set(self._streak):
            streak = self._streak.get(key, 0)
            if key in pressed:
                streak = streak + 1 if streak > 0 else 1
            else:
                streak = streak - 1 if streak < 0 else -1
            self._streak[key] = streak
            if streak >= self.debounce_scans and key not in self._down:
                self._down.add(key)
                self._emit(key)
            elif streak <= -self.debounce_scans:
                self._down.discard(key)
                del self._streak[key]

    def _emit(self, key: str) -> None:
        if self._handler is None:
            return
        try:
            self._handler(key)
        except Exception:  # a failing handler must not stop the scan
            log.exception("key handler failed for %r", key)
