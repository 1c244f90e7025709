"""The fleet as a viewer last heard it: one record per machine, fed by broker messages.

:class:`FleetPicture` takes raw MQTT messages (topic, payload) and keeps, per
machine, its last good status and inventory, what was wrong with a bad one, and
when it was last seen online.  It knows nothing of screens: ``table.py`` draws
it, and other views of the same messages (a pick list, a command's reply) can
read the same records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.fleet.status import (
    BadMessage,
    Inventory,
    Status,
    parse_inventory,
    parse_status,
)

LEAVES = ("status", "inventory")
MAX_PAYLOAD = 256 * 1024  # bytes: a 400-slot inventory is under 40 KiB
MAX_MACHINE_ID = 64


@dataclass
class MachineRecord:
    """One machine: its last good messages, and the reason a later one was refused."""

    machine_id: str
    status: Status | None = None
    inventory: Inventory | None = None
    bad_status: str | None = None  # why the last status message was refused
    bad_inventory: str | None = None
    last_seen: float | None = None  # epoch seconds it was last known online

    @property
    def online(self) -> bool:
        return self.bad_status is None and self.status is not None and self.status.online

    @property
    def faults(self) -> int:
        return len(self.status.faults) if self.online and self.status is not None else 0


class FleetPicture:
    """Every machine heard of under one topic prefix."""

    def __init__(self, topic_prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.prefix = topic_prefix
        self.machines: dict[str, MachineRecord] = {}
        self._clock = clock

    def subscriptions(self) -> list[str]:
        return [f"{self.prefix}/+/{leaf}" for leaf in LEAVES]

    def take(self, topic: str, payload: bytes) -> bool:
        """Note one message; True if it changed the picture.  Never raises."""
        parts = topic.split("/")
        if len(parts) < 3 or "/".join(parts[:-2]) != self.prefix or parts[-1] not in LEAVES:
            return False
        machine_id, leaf = parts[-2], parts[-1]
        if not machine_id or len(machine_id) > MAX_MACHINE_ID:
            return False
        if not payload:  # an emptied retained message: the machine's topic was cleared
            return self._forget(machine_id, leaf)
        record = self.machines.setdefault(machine_id, MachineRecord(machine_id))
        try:
            if len(payload) > MAX_PAYLOAD:
                raise BadMessage(f"{len(payload)} bytes, more than {MAX_PAYLOAD}")
            body = json.loads(payload)
            if leaf == "status":
                self._take_status(record, parse_status(body))
            else:
                record.inventory, record.bad_inventory = parse_inventory(body), None
        except (BadMessage, ValueError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, BadMessage) else "not JSON"
            if leaf == "status":
                record.bad_status = reason
            else:
                record.bad_inventory = reason
        return True

    def _take_status(self, record: MachineRecord, status: Status) -> None:
        was_online = record.online
        if status.online:
            record.last_seen = status.ts if status.ts is not None else self._clock()
        elif status.ts is not None:  # a clean stop says when
            record.last_seen = status.ts
        elif was_online:  # the will, while we watch: the broker just gave up on it
            record.last_seen = self._clock()
        record.status, record.bad_status = status, None

    def _forget(self, machine_id: str, leaf: str) -> bool:
        record = self.machines.get(machine_id)
        if record is None:
            return False
        if leaf == "status":
            record.status, record.bad_status = None, None
        else:
            record.inventory, record.bad_inventory = None, None
        if record.status is None and record.inventory is None:
            del self.machines[machine_id]
        return True

    def sorted(self) -> list[MachineRecord]:
        return [self.machines[m] for m in sorted(self.machines)]
