"""CH-926 style pulse coin acceptor on GPIO.

The acceptor signals each accepted coin as a train of pulses on its COIN
output (open collector: the line is pulled to 0 V for each pulse, so the
input uses the Pi's pull-up and reads active low).  The acceptor must be
programmed with pulses in proportion to value: 5c = 1, 10c = 2, 20c = 4,
50c = 10, 100c = 20 pulses.  Two quick coins give trains with no gap
between them; with proportional pulses the total is still exact:
credit = pulses x 5 cents.

Decoding: both edges are timestamped in the gpiozero callback and handed to
the loop.  A pulse counts only if its width is within ``pulse_min_s`` ..
``pulse_max_s``; a train ends after ``train_gap_s`` without a pulse.  A pulse
outside the window never credits: too short is reported as a SENSOR event
(noise), too long (or a line stuck active) as an ALARM event; ``code`` then
carries the width in milliseconds.

Merged trains: a train is split greedily into the largest known coin values
(14 pulses -> 50 + 20), one CREDIT event per coin, all in one batch.  The
total is always exact; the split is a guess when coins of different values
merged (10 + 10 and 20 give the same train), which only matters for the
controller's per-coin inventory.

Inhibit: the acceptor's INHIBIT input refuses coins at 0 V.  The Pi drives it
through a transistor (or relay) that connects it to the acceptor supply while
the GPIO output is on, with a pull-down keeping it at 0 V otherwise: output
on = accepting, and a Pi that is off, booting or crashed refuses coins.

Per-coin inhibit is a DIP-switch / teach-mode setting on this hardware, not
something the GPIO can change: ``set_coins_enabled`` is all or nothing
(an empty set refuses every coin, any other set accepts every coin the
acceptor was taught).  ``CoinBatch.counter`` is always None: pulses carry no
event counter, and a coin in flight during a restart is lost.

What it does not model: coin-specific rejection, the acceptor's own error
signalling (some models blink the counter output on a fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping

from gpiozero.pins import Factory

from drivers.base import CoinAcceptor, CoinBatch, CoinEvent, CoinEventKind, CoinHandler
from drivers.gpio.lines import InputLine, OutputLine, check_distinct_pins
from drivers.heartbeat import Heartbeat

log = logging.getLogger(__name__)

DEFAULT_PULSES = {5: 1, 10: 2, 20: 4, 50: 10, 100: 20}


class PulseCoinAcceptor(CoinAcceptor):
    """Pulse coin acceptor: pulse input, inhibit output (on = accepting)."""

    def __init__(self, *, pulse_pin: int, inhibit_pin: int, pin_factory: Factory | None = None,
                 pulses_per_coin: Mapping[int, int] | None = None, cents_per_pulse: int = 5,
                 pulse_min_s: float = 0.010, pulse_max_s: float = 0.150,
                 train_gap_s: float = 0.250, retry_s: float = 1.0,
                 name: str = "pulse_acceptor") -> None:
        pulses = dict(pulses_per_coin or DEFAULT_PULSES)
        if cents_per_pulse <= 0 or retry_s <= 0 or any(n <= 0 for n in pulses.values()):
            raise ValueError("cents_per_pulse, retry_s and pulses per coin must be positive")
        if any(value != n * cents_per_pulse for value, n in pulses.items()):
            raise ValueError("pulses must be proportional: value = pulses x cents_per_pulse")
        if not 0 < pulse_min_s < pulse_max_s or train_gap_s <= 0:
            raise ValueError("need 0 < pulse_min_s < pulse_max_s and train_gap_s > 0")
        check_distinct_pins(name, [pulse_pin, inhibit_pin])
        self.name = name
        self.cents_per_pulse = cents_per_pulse
        self.pulse_min_s = pulse_min_s
        self.pulse_max_s = pulse_max_s
        self.train_gap_s = train_gap_s
        self.retry_s = retry_s
        self._coins = frozenset(pulses)
        self._pulse = InputLine(pulse_pin, name="coin pulse", pin_factory=pin_factory)
        self._inhibit = OutputLine(inhibit_pin, name="coin inhibit", pin_factory=pin_factory)
        self._handler: CoinHandler | None = None
        self._want_accepting = False
        self._any_coin_enabled = True
        self._train = 0  # good pulses in the current train
        self._pulse_started: float | None = None
        self._train_timer: asyncio.TimerHandle | None = None
        self._stuck_timer: asyncio.TimerHandle | None = None
        self._stuck_reported = False
        self._batches: asyncio.Queue[CoinBatch] = asyncio.Queue()
        self._delivery: asyncio.Task[None] | None = None
        self.heartbeat: Heartbeat = Heartbeat(f"{name}-delivery")
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- CoinAcceptor ---------------------------------------------------------

    def set_handler(self, handler: CoinHandler) -> None:
        self._handler = handler

    async def start(self, *, resume_counter: int | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._inhibit.open(self._loop)
            self._pulse.open(self._loop, self._on_edge)
        except BaseException:
            await self.close()
            raise
        self._delivery = asyncio.create_task(self._deliver(), name=f"{self.name} delivery")

    async def set_accepting(self, accepting: bool) -> None:
        self._want_accepting = accepting
        self._apply_inhibit()

    async def set_coins_enabled(self, coins_cents: Collection[int]) -> None:
        self._any_coin_enabled = bool(self._coins.intersection(coins_cents))
        self._apply_inhibit()

    @property
    def known_coins_cents(self) -> frozenset[int]:
        return self._coins

    @property
    def accepting(self) -> bool:
        return self._inhibit.is_on

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._inhibit.off()
        for timer in (self._train_timer, self._stuck_timer):
            if timer is not None:
                timer.cancel()
        self._pulse.close()
        self._inhibit.close()
        task, self._delivery = self._delivery, None
        self.heartbeat.stopped()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _apply_inhibit(self) -> None:
        if self._want_accepting and self._any_coin_enabled:
            self._inhibit.on()
        else:
            self._inhibit.off()

    # --- decoding (on the loop) --------------------------------------------

    def _on_edge(self, active: bool, t: float) -> None:
        if active:
            self._pulse_started = t
            self._stuck_reported = False
            self._cancel(self._train_timer)
            self._stuck_timer = self._later(self.pulse_max_s * 2, self._check_stuck)
            return
        self._cancel(self._stuck_timer)
        started, self._pulse_started = self._pulse_started, None
        if started is not None and not self._stuck_reported:
            self._count_pulse(t - started)
        self._train_timer = self._later(self.train_gap_s, self._end_train)

    def _count_pulse(self, width_s: float) -> None:
        if self.pulse_min_s <= width_s <= self.pulse_max_s:
            self._train += 1
            return
        kind = CoinEventKind.SENSOR if width_s < self.pulse_min_s else CoinEventKind.ALARM
        log.warning("%s: pulse of %.1f ms ignored", self.name, width_s * 1000)
        self._batches.put_nowait(CoinBatch((CoinEvent(kind, code=round(width_s * 1000)),)))

    def _check_stuck(self) -> None:
        if self._pulse_started is None or not self._pulse.is_active:
            return
        self._stuck_reported = True  # one alarm per stuck pulse; it never credits
        width_ms = round((time.monotonic() - self._pulse_started) * 1000)
        log.error("%s: coin line held active for over %d ms", self.name, width_ms)
        self._batches.put_nowait(CoinBatch((CoinEvent(CoinEventKind.ALARM, code=width_ms),)))

    def _end_train(self) -> None:
        self._train_timer = None
        pulses, self._train = self._train, 0
        if pulses:
            events = tuple(CoinEvent(CoinEventKind.CREDIT, value_cents=v)
                           for v in self.split_coins(pulses * self.cents_per_pulse))
            self._batches.put_nowait(CoinBatch(events))

    def split_coins(self, cents: int) -> list[int]:
        """``cents`` as known coin values, largest first (greedy)."""
        coins: list[int] = []
        for value in sorted(self._coins, reverse=True):
            while cents >= value:
                coins.append(value)
                cents -= value
        if cents:  # only when cents_per_pulse is not itself a coin value
            coins.append(cents)
        return coins

    def _later(self, delay_s: float, action: Callable[[], None]) -> asyncio.TimerHandle:
        loop = self._loop or asyncio.get_running_loop()
        return loop.call_later(delay_s, action)

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    # --- handing batches to the controller ---------------------------------

    async def _deliver(self) -> None:
        while True:
            self.heartbeat.waiting()
            batch = await self._batches.get()
            self.heartbeat.beat()
            delivered = await self._hand_over(batch)
            while not delivered:  # the same batch again: the credit must not be lost
                await asyncio.sleep(self.retry_s)
                self.heartbeat.beat()
                delivered = await self._hand_over(batch)

    async def _hand_over(self, batch: CoinBatch) -> bool:
        if self._handler is None:
            return False
        try:
            await self._handler(batch)
        except Exception:
            log.exception("%s: coin handler failed; delivering the batch again", self.name)
            return False
        return True
