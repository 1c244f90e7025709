"""Simulated 4x4 matrix keypad on mock pins.

Holds the column of a pressed key low whenever the driver drives that key's
row low, answering synchronously when the row pin changes or a key moves
(before the driver reads its columns); between those it does nothing.
``press(keys)`` presses each key for ``hold_s`` and waits ``gap_s`` after it,
long enough for a debounce of a few scans.  A row counts as scanned when it
is driven alone; a driver that drives every row at once is waiting for an edge.

What it does not model: contact bounce, ghosting, several keys at once
(``hold`` and ``release`` allow it, with ideal diodes).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from gpiozero.pins.mock import MockFactory

from drivers.keys import KEYPAD_LAYOUT
from simulators.gpio.pins import SimLog, SimPin, sim_pin

DEFAULT_KEYS = KEYPAD_LAYOUT


class SimKeypad:
    """Key switches between row and column pins."""

    def __init__(self, factory: MockFactory, *, row_pins: Sequence[int],
                 column_pins: Sequence[int], keys: Sequence[str] = DEFAULT_KEYS,
                 hold_s: float = 0.03, gap_s: float = 0.03, min_scans: int = 3,
                 max_wait_s: float = 1.0) -> None:
        self.log = SimLog()
        self.hold_s = hold_s
        self.gap_s = gap_s
        self.min_scans = min_scans
        self.max_wait_s = max_wait_s
        self._rows = [sim_pin(factory, p) for p in row_pins]
        self._columns = [sim_pin(factory, p) for p in column_pins]
        self._where = {label: (r, c) for r, labels in enumerate(keys)
                       for c, label in enumerate(labels)}
        self._held: set[tuple[int, int]] = set()
        self._scans = [0] * len(self._rows)  # times each row was selected
        self._lock = threading.Lock()

    async def start(self) -> None:
        for pin in self._rows:
            pin.add_listener(self._on_row)
        self._update()

    async def close(self) -> None:
        for pin in self._rows:
            pin.remove_listener(self._on_row)
        with self._lock:
            self._held.clear()
        self._update()

    async def press(self, keys: str) -> None:
        """Press and release each key in turn.

        Each key is held for ``hold_s`` and then until its row was scanned
        ``min_scans`` times, and left alone as long after the release, so a
        loaded machine that scans late still sees every press once (a real
        finger stays down for dozens of scans).
        """
        for key in keys:
            row = self._position(key)[0]
            self.hold(key)
            await self._wait_scans(row, self.hold_s, released=False)
            self.release(key)
            await self._wait_scans(row, self.gap_s, released=True)

    async def _wait_scans(self, row: int, at_least_s: float, *, released: bool) -> None:
        """Wait ``at_least_s``, then until the row was scanned ``min_scans`` times
        (after a release, a driver back to waiting for an edge has seen it too)."""
        start = self._scans[row]
        await asyncio.sleep(at_least_s)
        waited = 0.0
        while self._scans[row] - start < self.min_scans and waited < self.max_wait_s:
            if released and self._all_rows_driven():
                return
            await asyncio.sleep(0.005)  # only while a key moves: the scanner runs elsewhere
            waited += 0.005

    def _all_rows_driven(self) -> bool:
        return all(pin.output_level is False for pin in self._rows)

    def hold(self, key: str) -> None:
        with self._lock:
            self._held.add(self._position(key))
        self.log.add("down", key)
        self._update()

    def release(self, key: str) -> None:
        with self._lock:
            self._held.discard(self._position(key))
        self.log.add("up", key)
        self._update()

    def _position(self, key: str) -> tuple[int, int]:
        if key not in self._where:
            raise ValueError(f"no key {key!r} on this keypad")
        return self._where[key]

    def _on_row(self, pin: SimPin) -> None:
        if pin.output_level is False and sum(p.output_level is False for p in self._rows) == 1:
            self._scans[self._rows.index(pin)] += 1  # driven alone: a scan of this row
        self._update()

    def _update(self) -> None:
        with self._lock:
            selected = {r for r, pin in enumerate(self._rows) if pin.output_level is False}
            low = {c for r, c in self._held if r in selected}
        for c, pin in enumerate(self._columns):
            pin.drive(False if c in low else None)  # None: the pull-up holds it high
