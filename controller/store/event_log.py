"""The durable event log (``events``, append-only): what ``GET /machine/events`` reads.

The in-process stream (``controller.events``) says that it grew; this table
is the record.  Rows are appended inside the transaction of the change they
describe.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils


def append_event(db: sqlite_utils.Database, kind: str, **data: Any) -> None:
    """Append one event (inside the caller's transaction)."""
    db.table("events").insert({"ts": time.time(), "kind": kind,
                               "data": json.dumps(data, sort_keys=True)})


def row_id(pk: object) -> int:
    assert isinstance(pk, int)
    return pk


def last_event_id(db: sqlite_utils.Database) -> int:
    return int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


def events_after(db: sqlite_utils.Database, after: int, limit: int) -> list[dict[str, Any]]:
    return [{"id": int(r[0]), "ts": float(r[1]), "kind": str(r[2]), "data": json.loads(r[3])}
            for r in db.conn.execute("SELECT id, ts, kind, data FROM events WHERE id > ? "
                                     "ORDER BY id LIMIT ?", (after, limit))]
