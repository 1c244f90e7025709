"""What fleet telemetry keeps in SQLite, as synchronous db functions.

Run inside ``store.tx`` (writes) or ``store.run`` (reads).  Two things:

- the "sent up to" mark (``meta`` key ``telemetry_sent_id``): the id of the last
  event the broker acknowledged.  Events after it are sent again after a
  reconnect or a restart, so each reaches the broker at least once, in id order;
- the commands taken from the fleet (table ``fleet_commands``), with their reply,
  so a command id is run at most once and a repeat is answered from here.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import sqlite_utils

from controller.store.event_log import append_event

MARK_KEY = "telemetry_sent_id"


def sent_mark(db: sqlite_utils.Database) -> int:
    row = db.conn.execute("SELECT value FROM meta WHERE key = ?", (MARK_KEY,)).fetchone()
    return int(row[0]) if row else 0


def save_sent_mark(db: sqlite_utils.Database, event_id: int) -> None:
    """Move the mark forward (never back: a late, smaller id changes nothing)."""
    db.conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
        "value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
        (MARK_KEY, str(event_id)))


def newest_event_id(db: sqlite_utils.Database) -> int:
    return int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


def cut_backlog(db: sqlite_utils.Database, mark: int, keep_events: int) -> int:
    """Give up the oldest unsent events so that ``keep_events`` wait; return the new mark.

    The events stay in the log (``GET /machine/events`` has them); they are only
    not sent.  A ``telemetry_backlog_cut`` event says which ids were skipped.
    """
    newest = newest_event_id(db)
    new_mark = newest - keep_events
    if new_mark <= mark:
        return mark
    save_sent_mark(db, new_mark)
    append_event(db, "telemetry_backlog_cut", fromId=mark + 1, toId=new_mark,
                 dropped=new_mark - mark)
    return new_mark


def local_midnight_ts(now_s: float | None = None) -> float:
    now = datetime.datetime.fromtimestamp(time.time() if now_s is None else now_s)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def sales_since(db: sqlite_utils.Database, since_s: float) -> tuple[int, int]:
    """Paid vends settled since ``since_s``: (count, value in cents)."""
    row = db.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(price), 0) FROM vends "
        "WHERE status = 'delivered' AND settled_at >= ?", (since_s,)).fetchone()
    return int(row[0]), int(row[1])


# --- commands ---------------------------------------------------------------------


def command_key(command_id: str | int) -> str:
    """The stored key: JSON, so that 5 and "5" stay two ids."""
    return json.dumps(command_id)


def find_command(db: sqlite_utils.Database, command_id: str | int
                 ) -> tuple[bool, dict[str, Any] | None] | None:
    """None if never seen; else (seen, its reply or None while it runs)."""
    row = db.conn.execute("SELECT reply FROM fleet_commands WHERE id = ?",
                          (command_key(command_id),)).fetchone()
    if row is None:
        return None
    return True, (json.loads(row[0]) if row[0] is not None else None)


def claim_command(db: sqlite_utils.Database, command_id: str | int, command: str) -> bool:
    """Record a command as running; False if its id was seen before."""
    cur = db.conn.execute(
        "INSERT OR IGNORE INTO fleet_commands (id, command, received_at) VALUES (?, ?, ?)",
        (command_key(command_id), command, time.time()))
    return cur.rowcount == 1


def save_reply(db: sqlite_utils.Database, reply: dict[str, Any], command: str,
               args: Any) -> None:
    """Keep the reply of a command and log the command as an event of the fleet."""
    command_id = reply["id"]
    db.conn.execute(
        "INSERT INTO fleet_commands (id, command, received_at, reply) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET reply = excluded.reply",
        (command_key(command_id), command, time.time(), json.dumps(reply)))
    outcome: dict[str, Any] = {"ok": reply["ok"]}
    if not reply["ok"]:
        outcome["error"] = reply["error"]["code"]
    append_event(db, "fleet_command", by="fleet", id=command_id, command=command,
                 args=args, **outcome)
