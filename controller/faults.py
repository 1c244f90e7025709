"""The fault registry: which devices are at fault, and the one path that reports one.

``report`` is the one fault path (Klipper's ``invoke_shutdown``): it runs every
safety handler once per new fault, each isolated and bounded (spirals
stopped, hoppers emergency-stopped, the acceptor inhibited), records the fault
with its device and a reason a technician can act on, and puts the machine
out of service.  ``clear`` is the operator's.  Faults are kept in the
``faults`` table (``controller.store.faults``), one row per device.

A fault names its device (``machine``, ``acceptor``, ``hopper:50``,
``slot:A1``), so a scope ("what it takes out") and a transient/latched policy
can be decided per device; today every reported fault is latched and takes
the machine out of service, and a hopper found short by a payout is left out
of change-making.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from controller.events import EventStream
from controller.fsm import MachineModel, State
from controller.store import Store
from controller.store import faults as fault_rows

log = logging.getLogger(__name__)
SAFETY_STEP_S = 3.0

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

    def as_json(self) -> dict[str, object]:
        return {"device": self.device, "reason": self.reason, "latched": self.latched}


class FaultRegistry:
    def __init__(self, store: Store, model: MachineModel, stream: EventStream) -> None:
        self._store = store
        self._model = model
        self._stream = stream
        self._faults: dict[str, Fault] = {}
        self._safety: list[tuple[str, SafetyHandler]] = []

    def add_safety_handler(self, name: str, handler: SafetyHandler) -> None:
        """A step that makes outputs safe, run on every new fault."""
        self._safety.append((name, handler))

    async def load(self) -> None:
        """At boot: the faults that stop the machine, as an operator left them."""
        rows = await self._store.run(fault_rows.all_faults)
        self._faults = {r.device: Fault(r.device, r.reason, r.latched)
                        for r in rows if r.stops_machine}
        if self._faults:
            self._publish()

    @property
    def active(self) -> dict[str, str]:
        """Device -> reason, for every fault that takes the machine out of service."""
        return {d: f.reason for d, f in self._faults.items()}

    def first_reason(self) -> str | None:
        return next(iter(self._faults.values())).reason if self._faults else None

    def as_json(self) -> list[dict[str, object]]:
        return [{"device": f.device, "reason": f.reason} for f in self._faults.values()]

    def payback_possible(self) -> bool:
        """Out of service, the hoppers may still pay credit back: not when a hopper
        or the machine itself is at fault (an acceptor or a slot fault is fine)."""
        return not any(f.scope in ("machine", "hopper") for f in self._faults.values())

    async def report(self, reason: str, *, device: str = "machine") -> None:
        """The one fault path: outputs safe, fault recorded, machine out of service."""
        fault = Fault(device, reason)
        if self._faults.get(device) == fault and self._model.state is State.OUT_OF_SERVICE:
            return  # already known and acted on
        log.error("FAULT %s: %s", device, reason)
        self._faults[device] = fault
        self._publish()
        await self._make_safe()
        await self._store.tx(lambda db: fault_rows.record_fault(db, device, reason))
        if self._model.state is not State.OUT_OF_SERVICE:
            await self._model.fire("fault")

    async def _make_safe(self) -> None:
        async def step(name: str, handler: SafetyHandler) -> None:
            try:
                await asyncio.wait_for(handler(), SAFETY_STEP_S)
            except Exception as exc:  # each step isolated: the next still runs
                log.warning("safety step %s failed: %r", name, exc)

        await asyncio.gather(*(step(name, handler) for name, handler in self._safety))

    async def clear(self, devices: list[str] | None = None) -> None:
        """An operator clears ``devices`` (every fault when None)."""
        gone = list(self._faults) if devices is None else [d for d in devices
                                                          if d in self._faults]
        for device in gone:
            del self._faults[device]
        if gone or devices is None:
            self._publish()
        await self._store.tx(lambda db: fault_rows.clear_faults(db, devices, "operator"))
        if not self._faults and self._model.state is State.OUT_OF_SERVICE:
            await self._model.fire("recovered")

    def _publish(self) -> None:
        self._stream.publish("faults", faults=[f.as_json() for f in self._faults.values()])
