"""Faults, in one table: one row per device at fault, with its reason.

``stops_machine`` is set for a fault of the machine itself (it takes the
machine out of service); every other fault takes out only its device (see
``controller.faults``).  A hopper the payout journal found short is recorded
in the payout's own transaction and is left out of change-making at once.
``latched`` faults stay until an operator clears them; the others are healed
when their device answers again (``heal_fault``).  Each recorded fault counts
one occurrence of its EVA-DTS event code (``store.event_codes``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

from controller.store.counters import count_event
from controller.store.event_codes import fault_event_code
from controller.store.event_log import append_event


@dataclass(frozen=True)
class FaultRow:
    device: str
    reason: str
    latched: bool
    stops_machine: bool


def create_table(db: sqlite_utils.Database) -> None:
    db.table("faults").create({"device": str, "reason": str, "latched": int,
                               "stops_machine": int, "since": float},
                              pk="device", not_null={"reason", "latched", "stops_machine"})


def all_faults(db: sqlite_utils.Database) -> list[FaultRow]:
    return [FaultRow(str(r["device"]), str(r["reason"]), bool(r["latched"]),
                     bool(r["stops_machine"]))
            for r in db.table("faults").rows_where(order_by="since, device")]


def record_fault(db: sqlite_utils.Database, device: str, reason: str, *,
                 latched: bool = True, stops_machine: bool = True) -> None:
    db.table("faults").upsert({"device": device, "reason": reason, "latched": int(latched),
                               "stops_machine": int(stops_machine), "since": time.time()},
                              pk="device")
    code = fault_event_code(device, reason)
    if code is not None:
        count_event(db, code)
    append_event(db, "fault", device=device, reason=reason, latched=latched)


def clear_faults(db: sqlite_utils.Database, devices: list[str] | None, by: str) -> None:
    """Clear the faults of ``devices`` (all when None), with one event."""
    if devices is None:
        db.conn.execute("DELETE FROM faults")
    else:
        db.conn.executemany("DELETE FROM faults WHERE device = ?", [(d,) for d in devices])
    append_event(db, "faults_cleared", device=by, reason="cleared")


def heal_fault(db: sqlite_utils.Database, device: str, how: str) -> None:
    """A transient fault cleared by itself: its device answers again."""
    db.conn.execute("DELETE FROM faults WHERE device = ? AND latched = 0", (device,))
    append_event(db, "fault_cleared", device=device, reason=how, by="device")


def set_hopper_fault(db: sqlite_utils.Database, coin: int, reason: str, *,
                     latched: bool = True) -> None:
    """A hopper paid short or refused: out of change-making (the machine goes on)."""
    device = f"hopper:{coin}"
    row = db.conn.execute("SELECT stops_machine FROM faults WHERE device = ?",
                          (device,)).fetchone()
    db.table("faults").upsert({"device": device, "reason": reason, "latched": int(latched),
                               "stops_machine": int(bool(row and row[0])),
                               "since": time.time()}, pk="device")


def clear_hopper_fault(db: sqlite_utils.Database, coin: int) -> None:
    db.conn.execute("DELETE FROM faults WHERE device = ?", (f"hopper:{coin}",))


def hopper_faults(db: sqlite_utils.Database) -> dict[int, str]:
    """Coin value -> reason, for every hopper at fault."""
    return {int(str(r[0])[7:]): str(r[1]) for r in db.conn.execute(
        "SELECT device, reason FROM faults WHERE device LIKE 'hopper:%'")}
