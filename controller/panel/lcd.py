"""The front panel's LCD writer and key parser (the flow is ``controller.panel.flow``,
the texts ``controller.panel.text``).

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

from controller.fsm import READY, State
from controller.panel.text import Lines, PanelSnapshot, status_lines, typing_lines
from drivers.base import Display
from drivers.errors import HardwareError
from drivers.keys import COIN_RETURN_KEY, ROW_KEYS

log = logging.getLogger(__name__)

FLASH_S = 2.5
TYPED_S = 5.0  # a half-typed slot code is forgotten after this long


@dataclass(frozen=True)
class _Flash:
    lines: tuple[str, str]
    until: float
    context: tuple[State, int, int | None]  # the state, credit and claim it was said about


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
        self._holds = 0  # actions of the panel's own that have not said what happened yet

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="panel")
        self.refresh()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def refresh(self) -> None:
        self._dirty.set()

    def flash(self, lines: Lines, seconds: float = FLASH_S) -> None:
        s = self._snapshot()
        self._flash = _Flash(lines, time.monotonic() + seconds,
                             (s.state, s.credit_cents, s.claim_cents))
        self.refresh()

    def hold(self) -> None:
        """An action started at the panel (a selection, coin return): keep the screen
        until it ends, so the resting screen of the states it passes through (the
        credit before the vend, idle before "thank you") is not drawn only to be
        overwritten a moment later.  Screens of other states (vending, paying, a fault)
        and flashes still show at once."""
        self._holds += 1

    def release(self) -> None:
        """The action that ``hold`` kept the screen for has ended."""
        self._holds = max(0, self._holds - 1)
        self.refresh()

    def key(self, key: str) -> None:
        """One debounced key press from the keypad."""
        now = time.monotonic()
        typed, self._typed = self._typed if now < self._typed_until else "", ""
        self._flash = None
        self.refresh()
        if key == COIN_RETURN_KEY:
            self._on_coin_return()
        elif key in ROW_KEYS:
            self._typed, self._typed_until = key, now + TYPED_S
        elif key.isdigit() and typed:
            self._on_select(typed + key)
        # "#", a digit without a row, or a key a matrix may add: the code is cleared

    def screen(self) -> tuple[tuple[str, str], float | None]:
        now = time.monotonic()
        s = self._snapshot()
        if self._flash is not None:
            flash = self._flash
            if now < flash.until and flash.context == (s.state, s.credit_cents, s.claim_cents):
                return flash.lines, flash.until
            self._flash = None
        if self._typed and now < self._typed_until and s.state in READY:
            return typing_lines(self._typed, s.credit_cents), self._typed_until
        if self._holds and s.state in READY and any(self.lines):
            return self.lines, None  # an action is about to say what happened
        return status_lines(s), None

    async def _run(self) -> None:
        while True:
            self._dirty.clear()
            lines, until = self.screen()
            if lines != self.lines:
                try:
                    await self._display.show(*lines)
                    self.lines = lines
                    if self._on_show is not None:
                        self._on_show(*lines)
                except HardwareError as exc:  # the LCD must never take the machine down
                    log.warning("display write failed: %s", exc)
                except Exception:
                    log.exception("display write failed")
            timeout = None if until is None else max(0.0, until - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout)
