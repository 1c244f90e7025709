"""HD44780-compatible character LCD (16x2) in 4-bit mode over GPIO.

Six outputs: RS (0 instruction, 1 data), E (data is latched on its falling
edge) and D4..D7; R/W is tied to ground, so the busy flag is never read and
the driver waits the datasheet times instead.  The E pulse and the 37 us
instruction time are covered by the cost of the pin calls plus
``byte_delay_s`` (a short ``time.sleep``); the long waits (power-up, the init
steps, clear) use ``asyncio.sleep``.

Init (datasheet "initialising by instruction", 4-bit): after power-up the
controller may be in 8-bit mode or half way through a 4-bit byte, so the
nibbles 3, 3, 3, 2 (bytes 0x33, 0x32) are sent with the required waits,
which leaves it in 4-bit mode whatever state it was in; then function set
0x28 (4-bit, 2 lines, 5x8), display on 0x0C (no cursor, no blink), clear
0x01 and entry mode 0x06 (increment, no shift).

``show(*lines)`` pads or cuts each line to the width and writes only the
characters that differ from what the display already shows.  Characters
outside printable ASCII 0x20..0x7D, and the backslash (a yen sign in the
common A00 character ROM), are shown as ``?``.

What it does not model: custom characters (CGRAM), the backlight, 4-line
displays' odd DDRAM layout beyond the row offsets, reading the busy flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from gpiozero.pins import Factory

from drivers.base import Display
from drivers.errors import NotStarted
from drivers.gpio.lines import OutputLine, check_distinct_pins

ROW_OFFSETS = (0x00, 0x40, 0x14, 0x54)  # DDRAM address of each line's first character

CLEAR = 0x01
ENTRY_MODE_INCREMENT = 0x06
DISPLAY_ON = 0x0C
DISPLAY_OFF = 0x08
FUNCTION_4BIT_2LINE = 0x28
SET_DDRAM = 0x80


def to_rom(text: str) -> str:
    """``text`` with every character the A00 ROM does not show as itself replaced."""
    return "".join(c if 0x20 <= ord(c) <= 0x7D and c != "\\" else "?" for c in text)


class Hd44780Display(Display):
    """A 16x2 HD44780 character LCD on RS, E and D4..D7."""

    def __init__(self, *, rs_pin: int, e_pin: int, data_pins: Sequence[int],
                 pin_factory: Factory | None = None, columns: int = 16, rows: int = 2,
                 power_on_delay_s: float = 0.05, byte_delay_s: float = 50e-6) -> None:
        if len(data_pins) != 4:
            raise ValueError("data_pins are D4, D5, D6, D7: four pins")
        if not 1 <= rows <= len(ROW_OFFSETS) or columns < 1:
            raise ValueError("rows must be 1..4 and columns positive")
        if power_on_delay_s < 0 or byte_delay_s < 0:
            raise ValueError("LCD delays must be >= 0")
        check_distinct_pins("LCD", [rs_pin, e_pin, *data_pins])
        self.rows = rows
        self.columns = columns
        self.power_on_delay_s = power_on_delay_s
        self.byte_delay_s = byte_delay_s
        self._rs = OutputLine(rs_pin, name="lcd RS", pin_factory=pin_factory)
        self._e = OutputLine(e_pin, name="lcd E", pin_factory=pin_factory)
        self._data = [OutputLine(p, name=f"lcd D{4 + i}", pin_factory=pin_factory)
                      for i, p in enumerate(data_pins)]
        self._shown: list[str] = []
        self._address: int | None = None  # DDRAM address counter, when known
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for line in self._lines():
                line.open(loop)
            async with self._lock:
                await self._initialise()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for line in self._lines():
            with contextlib.suppress(Exception):
                line.close()
        self._shown = []

    async def show(self, *lines: str) -> None:
        wanted = [to_rom(text)[: self.columns].ljust(self.columns)
                  for text in (*lines, *[""] * self.rows)[: self.rows]]
        async with self._lock:
            if not self._shown:
                raise NotStarted("display not started")
            for row, text in enumerate(wanted):
                self._write_row(row, text)
                await asyncio.sleep(0)  # let other tasks run between lines

    # --- protocol ---------------------------------------------------------------

    async def _initialise(self) -> None:
        await asyncio.sleep(self.power_on_delay_s)  # > 40 ms after Vcc rises
        self._rs.off()
        for nibble, wait_s in ((0x3, 0.005), (0x3, 0.001), (0x3, 0.001), (0x2, 0.001)):
            self._write_nibble(nibble)
            await asyncio.sleep(wait_s)  # > 4.1 ms, then > 100 us
        for command in (FUNCTION_4BIT_2LINE, DISPLAY_ON):
            self._command(command)
        self._command(CLEAR)
        await asyncio.sleep(0.002)  # clear takes 1.52 ms
        self._command(ENTRY_MODE_INCREMENT)
        self._shown = [" " * self.columns for _ in range(self.rows)]
        self._address = 0

    def _write_row(self, row: int, text: str) -> None:
        shown = self._shown[row]
        for col, char in enumerate(text):
            if shown[col] == char:
                continue
            address = ROW_OFFSETS[row] + col
            if self._address != address:
                self._command(SET_DDRAM | address)
            self._data_byte(ord(char))
            self._address = address + 1
        self._shown[row] = text

    def _command(self, value: int) -> None:
        self._write_byte(value, data=False)

    def _data_byte(self, value: int) -> None:
        self._write_byte(value, data=True)

    def _write_byte(self, value: int, *, data: bool) -> None:
        if data:
            self._rs.on()
        else:
            self._rs.off()
        self._write_nibble(value >> 4)
        self._write_nibble(value & 0x0F)
        if self.byte_delay_s:
            time.sleep(self.byte_delay_s)  # > 37 us execution time; far below a loop tick

    def _write_nibble(self, nibble: int) -> None:
        for bit, line in enumerate(self._data):
            if nibble >> bit & 1:
                line.on()
            else:
                line.off()
        self._e.on()
        self._e.off()  # latched on this falling edge

    def _lines(self) -> list[OutputLine]:
        return [self._rs, self._e, *self._data]
