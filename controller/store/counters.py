"""Audit counters (EVA-DTS): lifetime and since the last cashbox collection.

``counters`` holds the machine-wide ones (``schema.COUNTER_NAMES``),
``slot_counters`` the per-slot vends, value and failures.
"""

from __future__ import annotations

import sqlite_utils


def bump(db: sqlite_utils.Database, name: str, amount: int) -> None:
    """Add to one audit counter, lifetime and interim (inside a transaction)."""
    db.conn.execute(
        "UPDATE counters SET lifetime = lifetime + ?, interim = interim + ? WHERE name = ?",
        (amount, amount, name),
    )


def count_slot_vend(db: sqlite_utils.Database, slot: str, price: int) -> None:
    db.conn.execute(
        "UPDATE slot_counters SET vends = vends + 1, value = value + ?, "
        "interim_vends = interim_vends + 1, interim_value = interim_value + ? WHERE slot = ?",
        (price, price, slot))


def count_slot_failure(db: sqlite_utils.Database, slot: str) -> None:
    db.conn.execute("UPDATE slot_counters SET failed = failed + 1, "
                    "interim_failed = interim_failed + 1 WHERE slot = ?", (slot,))


def reset_interim(db: sqlite_utils.Database) -> None:
    """A cashbox collection starts a new audit period."""
    db.conn.execute("UPDATE counters SET interim = 0")
    db.conn.execute("UPDATE slot_counters SET interim_vends = 0, interim_value = 0, "
                    "interim_failed = 0")
