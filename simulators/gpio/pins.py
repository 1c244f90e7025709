"""Mock pins the GPIO simulators can watch and drive, and a timestamped log.

gpiozero's ``MockPin`` fires callbacks only for inputs the test drives; it
does not tell anyone when a driver switches an output.  ``SimPin`` adds that:
listeners are called synchronously whenever an output pin changes level or
stops being an output, in the thread of the code that changed it, so a
simulated keypad can answer a row scan before the driver reads its columns.

``SimPin.drive(level)`` models an external device holding an input high or
low: the level survives the driver later configuring a pull resistor (an
external driver overrides a weak pull), so simulators and drivers may start
in any order.  ``drive(None)`` lets go and the pull takes over again.

What it does not model: electrical contention, PWM, pin timing below the
resolution of ``time.monotonic()``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin, PinState

PinListener = Callable[["SimPin"], None]

_PIN_HISTORY = 2000  # MockPin keeps every change; a long-running sim must not grow without bound


class SimPin(MockPin):  # type: ignore[misc]  # gpiozero has no type information
    """A ``MockPin`` that reports output changes and remembers external drive."""

    def __init__(self, factory: Any, info: Any) -> None:
        self._listeners: list[PinListener] = []
        self._external: bool | None = None
        super().__init__(factory, info)

    # --- watching outputs -------------------------------------------------

    def add_listener(self, listener: PinListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: PinListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def output_level(self) -> bool | None:
        """The level a driver puts out, None when the pin is not an output."""
        if self._function != "output":
            return None
        return bool(self._state)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self)

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self._function == "output":
            self._notify()
        return changed

    def _set_function(self, value: str) -> None:
        was_output = self._function == "output"
        super()._set_function(value)
        if was_output != (self._function == "output"):
            self._notify()

    # --- driving inputs ---------------------------------------------------

    def drive(self, level: bool | None) -> None:
        """Hold the input at ``level`` from outside (None: release to the pull)."""
        self._external = level
        if self._function != "input":
            return
        if level is None:
            super()._set_pull(self._pull)
        elif level:
            self.drive_high()
        else:
            self.drive_low()

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self._external is not None:
            self.drive(self._external)

    def clear_states(self) -> None:
        self._last_change = time.monotonic()
        self.states = deque([PinState(0.0, self._state)], maxlen=_PIN_HISTORY)


def sim_pin_factory() -> MockFactory:
    """One mock pin factory whose pins are ``SimPin``: pass it to drivers and simulators."""
    return MockFactory(pin_class=SimPin)


def sim_pin(factory: MockFactory, number: int) -> SimPin:
    """The ``SimPin`` for a BCM pin number of ``factory``."""
    pin = factory.pin(number)
    if not isinstance(pin, SimPin):
        raise TypeError("simulators need a factory from sim_pin_factory() (SimPin pins)")
    return pin


@dataclass(frozen=True, slots=True)
class LogEntry:
    t: float  # time.monotonic() seconds
    event: str
    detail: str = ""


class SimLog:
    """A bounded, thread-safe, timestamped log of what a simulator saw and did."""

    def __init__(self, maxlen: int = 5000) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, event: str, detail: str = "") -> None:
        with self._lock:
            self._entries.append(LogEntry(time.monotonic(), event, detail))

    def entries(self, event: str | None = None) -> list[LogEntry]:
        with self._lock:
            return [e for e in self._entries if event is None or e.event == event]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@contextlib.contextmanager
def sim_factory_context() -> Iterator[MockFactory]:
    """A fresh ``sim_pin_factory()`` that is always reset and closed afterwards."""
    factory = sim_pin_factory()
    try:
        yield factory
    finally:
        factory.reset()
        factory.close()
