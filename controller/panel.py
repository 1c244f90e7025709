"""The front panel: what the 16x2 LCD says, and what the keypad asks for.

Keys: a row letter then a column digit select a slot (``A1``), ``*`` is coin
return, ``#`` clears a half-typed code.  The panel never applies a money rule
itself: it calls the same Machine methods as the API and turns their errors
into messages.  Writes to the LCD go through one task, latest screen wins,
so two messages never interleave on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.fsm import State
from controller.money import format_cents
from drivers.base import Display

log = logging.getLogger(__name__)

FLASH_S = 2.5
ROW_KEYS = "ABCD"


@dataclass(frozen=True)
class PanelSnapshot:
    state: State
    credit_cents: int
    exact_change_only: bool
    vending_slot: str | None = None
    fault: str | None = None


def status_lines(s: PanelSnapshot) -> tuple[str, str]:
    """The resting screen for a machine state."""
    if s.state is State.OUT_OF_SERVICE:
        return "OUT OF SERVICE", "SORRY"
    if s.state is State.SERVICE:
        return "SERVICE MODE", ""
    if s.state is State.BOOTING:
        return "STARTING", "PLEASE WAIT"
    if s.state is State.VENDING:
        return f"VENDING {s.vending_slot or ''}".strip(), "PLEASE WAIT"
    if s.state is State.PAYING:
        return "PAYING CHANGE", "PLEASE WAIT"
    if s.credit_cents > 0:
        return f"CREDIT {format_cents(s.credit_cents)}", (
            "EXACT CHANGE" if s.exact_change_only else "SELECT ITEM")
    if s.exact_change_only:
        return "EXACT CHANGE", "ONLY"
    return "HELLO", "INSERT COINS"


class Panel:
    """Drives the LCD from machine snapshots and flashes; parses key presses."""

    def __init__(self, display: Display, snapshot: Callable[[], PanelSnapshot],
                 on_select: Callable[[str], None], on_coin_return: Callable[[], None]) -> None:
        self._display = display
        self._snapshot = snapshot
        self._on_select = on_select
        self._on_coin_return = on_coin_return
        self._typed = ""
        self._flash: tuple[tuple[str, str], float] | None = None
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.lines: tuple[str, str] = ("", "")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="panel")
        self.refresh()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def refresh(self) -> None:
        self._dirty.set()

    def flash(self, line1: str, line2: str = "", seconds: float = FLASH_S) -> None:
        self._flash = ((line1, line2), time.monotonic() + seconds)
        self.refresh()

    def key(self, key: str) -> None:
        """One debounced key press from the keypad."""
        if key == "*":
            self._typed = ""
            self._on_coin_return()
        elif key == "#":
            self._typed = ""
            self._flash = None
            self.refresh()
        elif key in ROW_KEYS:
            self._typed = key
            self.flash(f"SELECT {key}_", "", seconds=5)
        elif key.isdigit() and self._typed:
            code, self._typed = self._typed + key, ""
            self._on_select(code)
        else:
            self._typed = ""

    def _screen(self) -> tuple[tuple[str, str], float | None]:
        if self._flash is not None:
            lines, until = self._flash
            if time.monotonic() < until:
                return lines, until
            self._flash = None
        return status_lines(self._snapshot()), None

    async def _run(self) -> None:
        while True:
            self._dirty.clear()
            lines, until = self._screen()
            if lines != self.lines:
                try:
                    await self._display.show(*lines)
                    self.lines = lines
                except Exception:  # the LCD must never take the machine down
                    log.exception("display write failed")
            timeout = None if until is None else max(0.0, until - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout)
