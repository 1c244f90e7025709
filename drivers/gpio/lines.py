"""Digital input and output lines on gpiozero, shaped for an asyncio driver.

``InputLine`` forwards every edge to the event loop with the monotonic time
it was seen in the gpiozero callback (which runs in a background thread on a
Pi).  ``OutputLine`` starts off and can carry a maximum on-time, enforced by
its own ``loop.call_later`` timer, so an output goes off even when the code
that switched it on is stuck or was cancelled.

Neither class opens a pin before ``open()``: drivers construct them in
``__init__`` and open them in ``start()``.  Both pass the driver's
``pin_factory`` to gpiozero (None on a Pi: gpiozero's default factory).

What they do not model: gpiozero's ``bounce_time`` (mock pins ignore it, so
drivers filter pulse widths themselves), PWM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from drivers.errors import NotStarted

log = logging.getLogger(__name__)

EdgeHandler = Callable[[bool, float], None]  # (active, monotonic seconds), on the loop


def check_distinct_pins(owner: str, pins: Sequence[int]) -> None:
    """The constructor check every GPIO driver makes: one pin, one job (ValueError)."""
    if any(p < 0 for p in pins):
        raise ValueError(f"{owner}: GPIO pins are numbers >= 0, got {list(pins)}")
    twice = sorted({p for p in pins if list(pins).count(p) > 1})
    if twice:
        raise ValueError(f"{owner}: GPIO{twice} used twice")


class InputLine:
    """One digital input whose edges are handed to the event loop.

    ``active_low`` inputs get the internal pull-up and read active when the
    line is pulled to 0 V (open-collector sensors and switches to ground).
    """

    def __init__(self, pin: int, *, name: str, active_low: bool = True,
                 pin_factory: Factory | None = None) -> None:
        self.pin = pin
        self.name = name
        self.active_low = active_low
        self._pin_factory = pin_factory
        self._device: DigitalInputDevice | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_edge: EdgeHandler | None = None

    def open(self, loop: asyncio.AbstractEventLoop, on_edge: EdgeHandler | None = None) -> None:
        self._loop = loop
        self._on_edge = on_edge
        if self.active_low:
            device = DigitalInputDevice(self.pin, pull_up=True, pin_factory=self._pin_factory)
        else:
            device = DigitalInputDevice(self.pin, pull_up=False, pin_factory=self._pin_factory)
        if on_edge is not None:
            device.when_activated = lambda: self._forward(True)
            device.when_deactivated = lambda: self._forward(False)
        self._device = device

    def _forward(self, active: bool) -> None:
        # Runs in gpiozero's thread: take the time here, act on the loop.
        seen = time.monotonic()
        loop, handler = self._loop, self._on_edge
        if loop is None or handler is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
            loop.call_soon_threadsafe(handler, active, seen)

    @property
    def is_active(self) -> bool:
        # read through the pin: the device's is_active goes through value, _read and
        # _state_to_value first (a keypad scan reads every column of every row)
        device = self._device
        return device is not None and bool(device.pin.state) != self.active_low

    def close(self) -> None:
        device, self._device = self._device, None
        self._on_edge = None
        if device is not None:
            device.close()


class OutputLine:
    """One digital output that starts off and goes off after ``max_on_s``.

    ``on_trip`` (called on the loop) tells the owner that the timer, not the
    owner, switched the line off.
    """

    def __init__(self, pin: int, *, name: str, active_high: bool = True,
                 max_on_s: float | None = None, pin_factory: Factory | None = None) -> None:
        if max_on_s is not None and max_on_s <= 0:
            raise ValueError(f"{name}: max_on_s must be positive")
        self.pin = pin
        self.name = name
        self.active_high = active_high
        self.max_on_s = max_on_s
        self.trips = 0
        self._pin_factory = pin_factory
        self._device: DigitalOutputDevice | None = None
        self._pin_out: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._on_trip: Callable[[OutputLine], None] | None = None
        # False only once an off() went through: a write of that level again is skipped
        # (half the pin writes of an LCD nibble), an off() after any on() never is
        self._level = False

    def open(self, loop: asyncio.AbstractEventLoop,
             on_trip: Callable[[OutputLine], None] | None = None) -> None:
        self._loop = loop
        self._on_trip = on_trip
        self._device = DigitalOutputDevice(self.pin, active_high=self.active_high,
                                           initial_value=False, pin_factory=self._pin_factory)
        # written through its pin: the device's on()/off() also stop a blink thread (never
        # started here) under a lock, several times the cost of the write (LCD: six a nibble)
        self._pin_out = self._device.pin
        self._level = False

    @property
    def is_on(self) -> bool:
        return self._device is not None and self._level

    def on(self) -> None:
        if self._device is None:
            raise NotStarted(f"{self.name}: output not open")
        if self.max_on_s is not None and self._loop is not None and self._timer is None:
            self._timer = self._loop.call_later(self.max_on_s, self._trip)
        if not self._level:
            self._level = True  # before the write: a failed on() is still switched off later
            self._pin_out.state = self.active_high

    def off(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._device is not None and self._level:
            self._pin_out.state = not self.active_high
            self._level = False

    def _trip(self) -> None:
        self._timer = None
        was_on = self.is_on
        self.off()
        if was_on:
            self.trips += 1
            log.error("%s: maximum on-time %.3f s reached, switched off", self.name, self.max_on_s)
            if self._on_trip is not None:
                self._on_trip(self)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must go on whatever the pin says
            self.off()
        device, self._device = self._device, None
        if device is not None:
            device.close()
