"""Simulated HD44780 character LCD decoding the driver's pin levels.

Watches E; on each falling edge it reads RS and D4..D7 (D0..D3 read 0, as
they are not wired in 4-bit use).  After power-up the controller is in
8-bit mode: every strobe is one instruction from the upper nibble.  After a
function set with DL = 0 it pairs nibbles, high first.  Instructions kept:
clear, home, entry mode (increment/decrement), display on/off, cursor shift,
function set, CGRAM and DDRAM address; data goes to DDRAM (or CGRAM) at the
address counter.  ``lines`` gives the rows exactly as the display shows them
(blank while the display is off, which it is after power-up).

Logs every nibble (``"nibble"``), instruction (``"instruction"``, hex) and
data byte (``"data"``), and keeps the instruction bytes in ``instructions``.

What it does not model: display shift, the cursor and blink, timing
violations (an instruction sent while busy), custom characters on screen,
character ROM glyphs outside ASCII.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from gpiozero.pins.mock import MockFactory

from simulators.gpio.pins import SimLog, SimPin, sim_pin

ROW_OFFSETS = (0x00, 0x40, 0x14, 0x54)


class SimLcd:
    """HD44780 state behind RS, E and D4..D7."""

    def __init__(self, factory: MockFactory, *, rs_pin: int, e_pin: int,
                 data_pins: Sequence[int], columns: int = 16, rows: int = 2) -> None:
        self.log = SimLog()
        self.columns = columns
        self.rows = rows
        self._rs = sim_pin(factory, rs_pin)
        self._e = sim_pin(factory, e_pin)
        self._data = [sim_pin(factory, p) for p in data_pins]
        self._lock = threading.Lock()
        self._e_high = False
        self.instructions: list[int] = []
        self.nibbles: list[int] = []
        self.power_on()

    def power_on(self) -> None:
        """The controller's internal reset: 8-bit mode, display off, DDRAM blank."""
        self.eight_bit = True
        self.two_lines = False
        self.display_on = False
        self.increment = True
        self.address = 0
        self.ddram = bytearray(b" " * 0x80)
        self.cgram = bytearray(64)
        self._to_cgram = False
        self._pending: tuple[int, bool] | None = None  # high nibble waiting for its low half

    async def start(self) -> None:
        self._e.add_listener(self._on_e)

    async def close(self) -> None:
        self._e.remove_listener(self._on_e)

    @property
    def lines(self) -> list[str]:
        with self._lock:
            if not self.display_on:
                return [" " * self.columns] * self.rows
            return [self.ddram[o:o + self.columns].decode("ascii", "replace")
                    for o in ROW_OFFSETS[: self.rows]]

    # --- bus ----------------------------------------------------------------

    def _on_e(self, pin: SimPin) -> None:
        high = bool(pin.output_level)
        falling = self._e_high and not high
        self._e_high = high
        if not falling:
            return
        nibble = sum(1 << i for i, p in enumerate(self._data) if p.output_level)
        rs = bool(self._rs.output_level)
        with self._lock:
            self.nibbles.append(nibble)
            self.log.add("nibble", f"{nibble:X} rs={int(rs)}")
            self._latch(nibble, rs)

    def _latch(self, nibble: int, rs: bool) -> None:
        if self.eight_bit:
            self._execute(nibble << 4, rs)
        elif self._pending is None:
            self._pending = (nibble, rs)
        else:
            high, _ = self._pending
            self._pending = None
            self._execute(high << 4 | nibble, rs)

    def _execute(self, byte: int, rs: bool) -> None:
        if rs:
            self.log.add("data", f"{byte:02X}")
            self._write_data(byte)
        else:
            self.log.add("instruction", f"{byte:02X}")
            self.instructions.append(byte)
            self._instruction(byte)

    def _instruction(self, byte: int) -> None:
        if byte & 0x80:
            self.address, self._to_cgram = byte & 0x7F, False
        elif byte & 0x40:
            self.address, self._to_cgram = byte & 0x3F, True
        elif byte & 0x20:
            self.eight_bit = bool(byte & 0x10)
            self.two_lines = bool(byte & 0x08)
        elif byte & 0x10:
            if not byte & 0x08:  # cursor move; display shift is not modelled
                self._step(bool(byte & 0x04))
        elif byte & 0x08:
            self.display_on = bool(byte & 0x04)
        elif byte & 0x04:
            self.increment = bool(byte & 0x02)
        elif byte & 0x02:
            self.address, self._to_cgram = 0, False
        elif byte == 0x01:
            self.ddram[:] = b" " * len(self.ddram)
            self.address, self._to_cgram, self.increment = 0, False, True

    def _write_data(self, byte: int) -> None:
        if self._to_cgram:
            self.cgram[self.address & 0x3F] = byte
            self.address = (self.address + (1 if self.increment else -1)) & 0x3F
            return
        self.ddram[self.address] = byte
        self._step(self.increment)

    def _step(self, forward: bool) -> None:
        """Move the DDRAM address counter the way a 2-line display wraps it."""
        if not self.two_lines:
            self.address = (self.address + (1 if forward else -1)) % 0x50
            return
        order = [*range(0x00, 0x28), *range(0x40, 0x68)]
        index = order.index(self.address) if self.address in order else 0
        self.address = order[(index + (1 if forward else -1)) % len(order)]
