"""Audit counters (EVA-DTS): lifetime and since the last cashbox collection.

``counters`` holds the machine-wide ones (``schema.COUNTER_NAMES``),
``slot_counters`` the per-slot vends, value and failures, ``slot_sales`` the
sales per slot and payment device (``CA`` cash, ``DA`` a card reader) with the
time of the last one, ``event_counts`` the occurrences of each EVA-DTS event
code, and ``audit_reads`` how often the report was read and reset.  An
audited cashbox collection is the report's reset: every interim figure goes
back to 0 and the reset is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

CASH = "CA"  # EVA-DTS payment device codes (PA702)
CASHLESS_1 = "DA"


def bump(db: sqlite_utils.Database, name: str, amount: int) -> None:
    """Add to one audit counter, lifetime and interim (inside a transaction)."""
    db.conn.execute(
        "UPDATE counters SET lifetime = lifetime + ?, interim = interim + ? WHERE name = ?",
        (amount, amount, name),
    )


def count_slot_vend(db: sqlite_utils.Database, slot: str, price: int, device: str = CASH,
                    at: float | None = None) -> None:
    """A paid vend of ``slot`` by ``device`` (``CA`` cash, ``DA`` card) at time ``at``."""
    db.conn.execute(
        "UPDATE slot_counters SET vends = vends + 1, value = value + ?, "
        "interim_vends = interim_vends + 1, interim_value = interim_value + ? WHERE slot = ?",
        (price, price, slot))
    db.conn.execute(
        "INSERT INTO slot_sales (slot, device, vends, value, interim_vends, interim_value, "
        "last_sale_at) VALUES (?, ?, 1, ?, 1, ?, ?) ON CONFLICT (slot, device) DO UPDATE SET "
        "vends = vends + 1, value = value + excluded.value, interim_vends = interim_vends + 1, "
        "interim_value = interim_value + excluded.value, "
        "last_sale_at = COALESCE(excluded.last_sale_at, last_sale_at)",
        (slot, device, price, price, at))


def count_slot_failure(db: sqlite_utils.Database, slot: str) -> None:
    db.conn.execute("UPDATE slot_counters SET failed = failed + 1, "
                    "interim_failed = interim_failed + 1 WHERE slot = ?", (slot,))


def count_event(db: sqlite_utils.Database, code: str) -> None:
    """One more occurrence of an EVA-DTS event code (``EAF``, ``EJB``, ...)."""
    db.conn.execute("INSERT INTO event_counts (code, lifetime, interim) VALUES (?, 1, 1) "
                    "ON CONFLICT (code) DO UPDATE SET lifetime = lifetime + 1, "
                    "interim = interim + 1", (code,))


@dataclass(frozen=True)
class ReadMark:
    """One read of the report: its number since initialisation (EA309), the resets
    so far (EA310), and when the report was read before (EA305/306; None: never)."""
    reads: int
    resets: int
    previous_read_at: float | None


def count_read(db: sqlite_utils.Database, at: float) -> ReadMark:
    """Count one read of the report at ``at`` (inside the read's transaction)."""
    db.conn.execute("INSERT OR IGNORE INTO audit_reads (id) VALUES (1)")
    row = db.conn.execute("SELECT reads, resets, last_read_at FROM audit_reads "
                          "WHERE id = 1").fetchone()
    db.conn.execute("UPDATE audit_reads SET reads = reads + 1, last_read_at = ? WHERE id = 1",
                    (at,))
    return ReadMark(int(row[0]) + 1, int(row[1]), None if row[2] is None else float(row[2]))


def reset_interim(db: sqlite_utils.Database) -> None:
    """A cashbox collection starts a new audit period (one more reset, EA310)."""
    db.conn.execute("UPDATE counters SET interim = 0")
    db.conn.execute("UPDATE slot_counters SET interim_vends = 0, interim_value = 0, "
                    "interim_failed = 0")
    db.conn.execute("UPDATE slot_sales SET interim_vends = 0, interim_value = 0")
    db.conn.execute("UPDATE event_counts SET interim = 0")
    db.conn.execute("INSERT OR IGNORE INTO audit_reads (id) VALUES (1)")
    db.conn.execute("UPDATE audit_reads SET resets = resets + 1 WHERE id = 1")
