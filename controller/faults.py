"""The fault registry: which devices are at fault, and the one path that reports one.

``report`` is the one fault path (Klipper's ``invoke_shutdown``): it runs the
safety handlers of the fault's scope once per new fault, each isolated and
bounded (an acceptor fault inhibits the acceptor, a hopper fault stops that
hopper, a slot fault stops the spirals, a machine fault runs them all),
records the fault with its device and a reason a technician can act on, and
puts the machine out of service only when the fault is the machine's own.

A fault names its device (``machine``, ``acceptor``, ``hopper:50``,
``slot:A1``) and takes out only that: a hopper at fault is left out of
change-making (``store.inventory.payout_inventory``), an acceptor at fault
takes no coins, a slot at fault does not sell.

A transient fault (a device that stopped answering) is healed by ``heal``
when the device answers again and its driver has re-initialised it.  A
latched one (money or goods may be lost, or the device failed
``REPEAT_LIMIT`` times within ``REPEAT_WINDOW_S``) stays until an operator
clears it (``clear``, on leaving service mode).  Faults are kept in the
``faults`` table (``controller.store.faults``), one row per device.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from controller.events import EventStream
from controller.fsm import MachineModel, State
from controller.store import Store
from controller.store import faults as fault_rows

log = logging.getLogger(__name__)
SAFETY_STEP_S = 3.0
REPEAT_LIMIT = 5
REPEAT_WINDOW_S = 600.0
ALL_SCOPES = "*"

SafetyHandler = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Fault:
    device: str
    reason: str
    latched: bool = True

    @property
    def scope(self) -> str:
        """The kind of part it touches: machine, acceptor, hopper or slot."""
        return self.device.split(":", 1)[0]

    @property
    def stops_machine(self) -> bool:
        return self.scope == "machine"

    def as_json(self) -> dict[str, object]:
        return {"device": self.device, "reason": self.reason, "latched": self.latched}


class FaultRegistry:
    def __init__(self, store: Store, model: MachineModel, stream: EventStream) -> None:
        self._store = store
        self._model = model
        self._stream = stream
        self._faults: dict[str, Fault] = {}
        self._safety: list[tuple[str, str, SafetyHandler]] = []
        self._recent: dict[str, deque[float]] = {}

    def add_safety_handler(self, name: str, handler: SafetyHandler, *,
                           device: str = ALL_SCOPES) -> None:
        """A step that makes outputs safe, run on every new fault of ``device``
        (a device name, or a scope such as ``slot``; every fault when ``*``)."""
        self._safety.append((name, device, handler))

    async def load(self) -> None:
        """At boot: the faults as they were left (transient ones heal when their
        device answers)."""
        rows = await self._store.run(fault_rows.all_faults)
        self._faults = {r.device: Fault(r.device, r.reason, r.latched) for r in rows}
        if self._faults:
            self._publish()

    @property
    def active(self) -> dict[str, str]:
        """Device -> reason, for every fault."""
        return {d: f.reason for d, f in self._faults.items()}

    def get(self, device: str) -> Fault | None:
        return self._faults.get(device)

    def stops_machine(self) -> bool:
        """A fault of the machine itself: nothing can be sold or paid back."""
        return any(f.stops_machine for f in self._faults.values())

    def first_reason(self) -> str | None:
        """The reason the panel shows: the machine's own fault first."""
        ordered = sorted(self._faults.values(), key=lambda f: not f.stops_machine)
        return ordered[0].reason if ordered else None

    def as_json(self) -> list[dict[str, object]]:
        return [f.as_json() for f in self._faults.values()]

    def payback_possible(self) -> bool:
        """Out of service, the hoppers may still pay credit back: not when the
        machine itself is at fault (change is planned over the hoppers that work)."""
        return not self.stops_machine()

    async def report(self, reason: str, *, device: str = "machine",
                     latched: bool = True) -> Fault:
        """The one fault path: outputs of the scope safe, fault recorded; the
        machine out of service only for a fault of its own."""
        if not latched and self._repeated(device):
            latched = True
            reason += f" (failed {REPEAT_LIMIT} times within {REPEAT_WINDOW_S / 60:g} min)"
        old = self._faults.get(device)
        if old is not None and old.latched and not latched:
            return old  # a latched fault is not downgraded by a new transient one
        fault = Fault(device, reason, latched)
        if old == fault:
            return fault  # already known and acted on
        log.error("FAULT %s (%s): %s", device, "latched" if latched else "transient", reason)
        self._faults[device] = fault
        self._publish()
        # Recorded before the safety steps (which may take seconds): the store
        # runs transactions in order, so a heal that comes meanwhile is written
        # after this fault, never before it, and a stop meanwhile keeps the fault.
        await self._store.tx(lambda db: fault_rows.record_fault(
            db, device, reason, latched=latched, stops_machine=fault.stops_machine))
        await self._make_safe(fault)
        if fault.stops_machine and self._model.state is not State.OUT_OF_SERVICE:
            await self._model.fire("fault")
        return fault

    def _repeated(self, device: str) -> bool:
        """Count one more transient fault; True when the device keeps failing."""
        now = time.monotonic()
        recent = self._recent.setdefault(device, deque())
        recent.append(now)
        while recent and now - recent[0] > REPEAT_WINDOW_S:
            recent.popleft()
        return len(recent) >= REPEAT_LIMIT

    async def _make_safe(self, fault: Fault) -> None:
        async def step(name: str, handler: SafetyHandler) -> None:
            try:
                await asyncio.wait_for(handler(), SAFETY_STEP_S)
            except Exception as exc:  # each step isolated: the next still runs
                log.warning("safety step %s failed: %r", name, exc)

        await asyncio.gather(*(step(name, handler) for name, device, handler in self._safety
                               if fault.stops_machine or device in
                               (ALL_SCOPES, fault.device, fault.scope)))

    async def heal(self, device: str, how: str) -> bool:
        """The device answers again and was re-initialised: its transient fault
        clears, with an event.  False (and nothing changes) when it is latched."""
        fault = self._faults.get(device)
        if fault is None:
            return True
        if fault.latched:
            log.warning("%s answers again (%s) but its fault is latched: %s", device, how,
                        fault.reason)
            return False
        del self._faults[device]
        log.warning("fault of %s healed: %s", device, how)
        self._publish()
        await self._store.tx(lambda db: fault_rows.heal_fault(db, device, how))
        if fault.stops_machine:
            await self._back_in_service()
        return True

    async def clear(self, devices: list[str] | None = None) -> None:
        """An operator clears ``devices`` (every fault when None)."""
        gone = list(self._faults) if devices is None else [d for d in devices
                                                          if d in self._faults]
        for device in gone:
            del self._faults[device]
            self._recent.pop(device, None)
        if gone or devices is None:
            self._publish()
        await self._store.tx(lambda db: fault_rows.clear_faults(db, devices, "operator"))
        await self._back_in_service()

    async def _back_in_service(self) -> None:
        if not self.stops_machine() and self._model.state is State.OUT_OF_SERVICE:
            await self._model.fire("recovered")

    def _publish(self) -> None:
        self._stream.publish("faults", faults=[f.as_json() for f in self._faults.values()])
