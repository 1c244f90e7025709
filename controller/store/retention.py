"""The retention rule of the event log: old rows go once a verified backup holds them.

The ``events`` table is the record of what happened (``GET /machine/events``,
the console, telemetry); money never needs it: balances and the audit live in
``coins``, ``credits``, ``users.deposit``, the journal of vends and payouts
and the counters, which are never pruned.  Without a rule the table grows by
about 0.4 KiB a sale for ever.

``vending backup`` marks the newest event id of the copy it has just verified
(``meta`` key ``events_archived_id``, only ever moved forward), then deletes,
in short transactions, every row that the copy holds, that is older than
``events_keep_days``, that is not among the ``events_keep_rows`` newest, and
(when telemetry reports to a broker) that the broker has acknowledged.  The
database itself refuses to delete a row above the archived mark (a trigger,
schema migration 6).
"""

from __future__ import annotations

import time

import sqlite_utils

from controller.config.retention import RetentionConfig
from controller.store.outbox import sent_mark

ARCHIVED_KEY = "events_archived_id"
DELETE_BATCH_ROWS = 2000  # per transaction: the running machine waits at most that long


def archived_mark(db: sqlite_utils.Database) -> int:
    row = db.conn.execute("SELECT value FROM meta WHERE key = ?", (ARCHIVED_KEY,)).fetchone()
    return int(row[0]) if row else 0


def mark_archived(db: sqlite_utils.Database, event_id: int) -> None:
    """Rows up to ``event_id`` are in a verified backup (the mark never moves back)."""
    db.conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
        "value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
        (ARCHIVED_KEY, str(event_id)))


def prunable_through(db: sqlite_utils.Database, rule: RetentionConfig, *,
                     telemetry: bool) -> int:
    """The highest event id the rule lets go (by the marks and the row count)."""
    if not rule.enabled:
        return 0
    newest = int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
    limit = min(archived_mark(db), newest - rule.events_keep_rows)
    if telemetry:
        limit = min(limit, sent_mark(db))
    return max(0, limit)


def prune_batch(db: sqlite_utils.Database, rule: RetentionConfig, *, telemetry: bool,
                now_s: float | None = None) -> int:
    """Delete up to ``DELETE_BATCH_ROWS`` old rows (inside the caller's transaction)."""
    through = prunable_through(db, rule, telemetry=telemetry)
    if through <= 0:
        return 0
    cutoff = (time.time() if now_s is None else now_s) - rule.events_keep_days * 86_400
    cur = db.conn.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ? AND ts < ? "
        "ORDER BY id LIMIT ?)", (through, cutoff, DELETE_BATCH_ROWS))
    return int(cur.rowcount)
