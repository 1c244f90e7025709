"""Pulse hopper on GPIO: a motor output and a coin exit sensor.

The motor pays coins continuously while its output is on; an optical exit
sensor gives a short pulse (about 30 ms, active low with the Pi's pull-up)
per coin.  ``dispense(count)`` holds the motor on until ``count`` coins were
seen, until no coin came for ``coin_timeout_s``, or until the maximum on-time
timer fired.  The edge handler itself switches the motor off as soon as the
last coin breaks the beam (and on again if that pulse turns out too short or
too long to be a coin), so neither the pulse length nor a slow ``on_paid``
hook makes it overpay.  A coin in flight can still exit after the motor
stops (200..500 ms later), so coins are counted for ``late_coin_s`` more
(a coin already in the beam when that ends is waited for) and included in
``paid`` (which can then exceed the request: the result says what really
left the hopper).

Faults: ``"empty"`` no coin at all came out, ``"jam"`` coins came out and
then stopped, ``"max_on_time"`` the motor's own timer switched it off,
``"stopped"`` ``emergency_stop()`` ended it.  Without a level sensor an
empty hopper and a jam after some coins cannot be told apart; the names are
the likely cause, not a diagnosis.

``status()`` reports a local dispense counter (incremented once per
dispense), not a device register: it starts at 0 with every process.

What it does not model: a hopper low-level sensor, coin-value checking,
motor reversal to clear jams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gpiozero.pins import Factory

from drivers.base import CoinPaidHook, Hopper, HopperStatus, PayoutResult
from drivers.errors import NotStarted
from drivers.gpio.lines import InputLine, OutputLine, check_distinct_pins

log = logging.getLogger(__name__)


class PulseHopper(Hopper):
    """A change hopper of one coin value with motor output and exit sensor."""

    def __init__(self, coin_cents: int, *, motor_pin: int, exit_pin: int,
                 pin_factory: Factory | None = None, coin_timeout_s: float = 5.0,
                 late_coin_s: float = 0.5, max_on_s: float = 30.0,
                 exit_pulse_min_s: float = 0.005, exit_pulse_max_s: float = 0.25,
                 name: str | None = None) -> None:
        if min(coin_timeout_s, max_on_s, exit_pulse_min_s) <= 0 or late_coin_s < 0:
            raise ValueError("hopper timings must be positive")
        if exit_pulse_max_s <= exit_pulse_min_s or coin_cents <= 0:
            raise ValueError("need exit_pulse_min_s < exit_pulse_max_s and coin_cents > 0")
        check_distinct_pins(name or f"pulse hopper {coin_cents}c", [motor_pin, exit_pin])
        self.name = name or f"pulse_hopper_{coin_cents}"
        self.coin_cents = coin_cents
        self.coin_timeout_s = coin_timeout_s
        self.late_coin_s = late_coin_s
        self.exit_pulse_min_s = exit_pulse_min_s
        self.exit_pulse_max_s = exit_pulse_max_s
        self._motor = OutputLine(motor_pin, name=f"{self.name} motor", max_on_s=max_on_s,
                                 pin_factory=pin_factory)
        self._exit = InputLine(exit_pin, name=f"{self.name} exit sensor",
                               pin_factory=pin_factory)
        self._lock = asyncio.Lock()
        self._progress = asyncio.Event()
        self._pulse_started: float | None = None
        self._counting = False
        self._running = False
        self._stop_reason: str | None = None
        self._counter = 0
        self._requested = 0
        self._paid = 0
        self.stray_coins = 0  # exits seen outside any dispense and its late window
        self._started = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._motor.open(loop, self._on_trip)
            self._exit.open(loop, self._on_exit_edge)
        except BaseException:
            await self.close()
            raise
        self._started = True

    async def close(self) -> None:
        self._motor.close()
        self._exit.close()
        self._started = False

    async def status(self) -> HopperStatus:
        remaining = max(0, self._requested - self._paid) if self._running else 0
        return HopperStatus(counter=self._counter, remaining=remaining, paid=self._paid,
                            unpaid=max(0, self._requested - self._paid))

    async def emergency_stop(self) -> HopperStatus:
        self._motor.off()
        self._stop("stopped")
        return await self.status()

    # --- dispensing ------------------------------------------------------------

    async def dispense(self, count: int, *, on_paid: CoinPaidHook | None = None) -> PayoutResult:
        if not self._started:
            raise NotStarted(f"{self.name} not started")
        if count <= 0:
            return PayoutResult(requested=max(count, 0), paid=0)
        async with self._lock:
            self._begin(count)
            fault = None
            reported = 0
            try:
                self._motor.on()
                while self._paid < count and fault is None:
                    fault = await self._wait_for_coin()
                    reported = await self._report(on_paid, reported)
            finally:
                self._motor.off()
                self._running = False
            try:
                await asyncio.sleep(self.late_coin_s)  # a coin in flight still counts
                if self._pulse_started is not None:
                    # a late coin is in the beam as the window ends: let its pulse finish
                    await asyncio.sleep(self.exit_pulse_max_s)
            finally:
                self._counting = False
            await self._report(on_paid, reported)
            paid = self._paid
            return PayoutResult(requested=count, paid=paid, fault=fault if paid < count else None)

    def _begin(self, count: int) -> None:
        self._counter += 1
        self._requested, self._paid = count, 0
        self._stop_reason = None
        self._counting = self._running = True

    async def _wait_for_coin(self) -> str | None:
        """None when a coin came; else the fault that ends the dispense."""
        self._progress.clear()
        before = self._paid
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.coin_timeout_s):
                while self._paid == before and self._stop_reason is None:
                    await self._progress.wait()
                    self._progress.clear()
        if self._stop_reason is not None:
            return self._stop_reason
        if self._paid == before:
            return "empty" if self._paid == 0 else "jam"
        return None

    async def _report(self, on_paid: CoinPaidHook | None, reported: int) -> int:
        if on_paid is None or self._paid == reported:
            return reported
        try:
            await on_paid(self._paid)
        except Exception:  # the coins left whatever the hook thinks: keep counting
            log.exception("%s: on_paid hook failed", self.name)
        return self._paid

    def _stop(self, reason: str) -> None:
        if self._running and self._stop_reason is None:
            self._stop_reason = reason
        self._progress.set()

    def _on_trip(self, _line: OutputLine) -> None:
        self._stop("max_on_time")

    # --- exit sensor (on the loop) ---------------------------------------------

    def _on_exit_edge(self, active: bool, t: float) -> None:
        if active:
            self._pulse_started = t
            if self._running and self._paid + 1 >= self._requested:
                self._motor.off()  # the last coin is in the beam: stop now, not after the pulse
            return
        started, self._pulse_started = self._pulse_started, None
        if started is None:
            return
        width_s = t - started
        if not self.exit_pulse_min_s <= width_s <= self.exit_pulse_max_s:
            log.warning("%s: exit pulse of %.1f ms ignored", self.name, width_s * 1000)
            self._resume_after_glitch()
            return
        if not self._counting:
            self.stray_coins += 1
            log.warning("%s: a coin left outside a dispense", self.name)
            return
        self._paid += 1
        if self._paid >= self._requested:
            self._motor.off()
        self._progress.set()

    def _resume_after_glitch(self) -> None:
        # The motor was stopped for what turned out to be noise, not the last coin.
        if self._running and self._stop_reason is None and self._paid < self._requested:
            self._motor.on()
