"""The front panel: what the 16x2 LCD says, and what the keypad asks for.

Keys: a row letter then a column digit select a slot (``A1``), ``*`` is coin
return, ``#`` clears a half-typed code; a code not finished within 5 s is
forgotten.  The panel never applies a money rule
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
TYPED_S = 5.0  # a half-typed slot code is forgotten after this long
ROW_KEYS = "ABCD"
READY_STATES = (State.IDLE, State.CREDIT)


@dataclass(frozen=True)
class PanelSnapshot:
    state: State
    credit_cents: int
    exact_change_only: bool
    vending_slot: str | None = None
    fault: str | None = None
    coin_return_ok: bool = False  # out of service, but the hoppers can pay the credit back


def status_lines(s: PanelSnapshot) -> tuple[str, str]:
    """The resting screen for a machine state."""
    if s.state is State.OUT_OF_SERVICE:
        if s.credit_cents > 0 and s.coin_return_ok:
            return "OUT OF SERVICE", f"* RETURNS {format_cents(s.credit_cents)}"
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


@dataclass(frozen=True)
class _Flash:
    lines: tuple[str, str]
    until: float
    context: tuple[State, int]  # the machine's state and credit it was said about


class Panel:
    """Drives the LCD from machine snapshots and flashes; parses key presses.

    Screen priority: a flash (the answer to what the customer just did) while
    the machine's state and credit are still those it spoke about; then a
    half-typed slot code; then the resting screen of the machine's state.  A
    coin, a vend or a fault therefore replaces a stale message at once.
    """

    def __init__(self, display: Display, snapshot: Callable[[], PanelSnapshot],
                 on_select: Callable[[str], None], on_coin_return: Callable[[], None],
                 *, on_show: Callable[[str, str], None] | None = None) -> None:
        self._display = display
        self._on_show = on_show
        self._snapshot = snapshot
        self._on_select = on_select
        self._on_coin_return = on_coin_return
        self._typed = ""
        self._typed_until = 0.0
        self._flash: _Flash | None = None
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
        s = self._snapshot()
        self._flash = _Flash((line1, line2), time.monotonic() + seconds,
                             (s.state, s.credit_cents))
        self.refresh()

    def key(self, key: str) -> None:
        """One debounced key press from the keypad."""
        now = time.monotonic()
        typed, self._typed = self._typed if now < self._typed_until else "", ""
        self._flash = None
        self.refresh()
        if key == "*":
            self._on_coin_return()
        elif key in ROW_KEYS:
            self._typed, self._typed_until = key, now + TYPED_S
        elif key.isdigit() and typed:
            self._on_select(typed + key)
        # "#", a digit without a row, or a key a matrix may add: the code is cleared

    def _screen(self) -> tuple[tuple[str, str], float | None]:
        now = time.monotonic()
        s = self._snapshot()
        if self._flash is not None:
            flash = self._flash
            if now < flash.until and flash.context == (s.state, s.credit_cents):
                return flash.lines, flash.until
            self._flash = None
        if self._typed and now < self._typed_until and s.state in READY_STATES:
            credit = f"CREDIT {format_cents(s.credit_cents)}" if s.credit_cents else ""
            return (f"SELECT {self._typed}_", credit), self._typed_until
        return status_lines(s), None

    async def _run(self) -> None:
        while True:
            self._dirty.clear()
            lines, until = self._screen()
            if lines != self.lines:
                try:
                    await self._display.show(*lines)
                    self.lines = lines
                    if self._on_show is not None:
                        self._on_show(*lines)
                except Exception:  # the LCD must never take the machine down
                    log.exception("display write failed")
            timeout = None if until is None else max(0.0, until - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout)
