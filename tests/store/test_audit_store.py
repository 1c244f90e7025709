"""What the audit report keeps in the store: sales per payment device, event
counts, reads and resets; and the migration that brings them to a database
that already sold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from controller.store import open_db
from controller.store.counters import count_event, count_read, count_slot_vend, reset_interim
from controller.store.db import migrate, transaction
from controller.store.faults import record_fault
from controller.store.schema import MIGRATIONS


def rows(db: sqlite_utils.Database, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in db.conn.execute(sql)]


def test_reads_resets_sales_and_events_are_counted_and_reset(tmp_path: Path) -> None:
    db = open_db(tmp_path / "v.db")
    db.conn.execute("INSERT INTO slot_counters (slot) VALUES ('A1')")

    def work(d: sqlite_utils.Database) -> None:
        count_slot_vend(d, "A1", 65, "CA", 100.0)
        count_slot_vend(d, "A1", 65, "CA", 200.0)
        count_slot_vend(d, "A1", 70, "DA", 150.0)
        record_fault(d, "hopper:50", "hopper 50c jam: paid 1 of 3")
        record_fault(d, "slot:A1", "slot A1 failed to vend (no_drop): check")  # no code
        count_event(d, "EGS")

    transaction(db, work)
    assert rows(db, "SELECT slot, device, vends, value, interim_vends, interim_value, "
                    "last_sale_at FROM slot_sales ORDER BY device") == [
        ("A1", "CA", 2, 130, 2, 130, 200.0), ("A1", "DA", 1, 70, 1, 70, 150.0)]
    assert rows(db, "SELECT code, lifetime, interim FROM event_counts ORDER BY code") == [
        ("EAF", 1, 1), ("EGS", 1, 1)]
    first = transaction(db, lambda d: count_read(d, 1000.0))
    second = transaction(db, lambda d: count_read(d, 2000.0))
    assert (first.reads, first.resets, first.previous_read_at) == (1, 0, None)
    assert (second.reads, second.resets, second.previous_read_at) == (2, 0, 1000.0)
    transaction(db, reset_interim)
    assert rows(db, "SELECT vends, interim_vends, interim_value FROM slot_sales "
                    "ORDER BY device") == [
        (2, 0, 0), (1, 0, 0)]
    assert rows(db, "SELECT lifetime, interim FROM event_counts ORDER BY code") == [(1, 0), (1, 0)]
    third = transaction(db, lambda d: count_read(d, 3000.0))
    assert (third.reads, third.resets, third.previous_read_at) == (3, 1, 2000.0)


def test_a_database_that_sold_before_keeps_its_figures(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, step in enumerate(MIGRATIONS[:6], start=1):  # a database of schema 6
        if callable(step):
            step(sqlite_utils.Database(conn))
        else:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO slot_counters (slot, vends, value, interim_vends, interim_value)"
                 " VALUES ('A1', 3, 195, 1, 65), ('B2', 0, 0, 0, 0)")
    for settled in (10.0, 30.0, 20.0):
        conn.execute("INSERT INTO vends (holder, product_name, slot, price, status, "
                     "created_at, settled_at) VALUES ('panel', 'Cola', 'A1', 65, "
                     "'delivered', 0, ?)", (settled,))
    for _ in range(2):
        conn.execute("INSERT INTO events (ts, kind) VALUES (0, 'cashbox_collected')")
    conn.close()
    db = open_db(path)
    assert migrate(db.conn) == len(MIGRATIONS)
    assert rows(db, "SELECT slot, device, vends, value, interim_vends, interim_value, "
                    "last_sale_at FROM slot_sales") == [("A1", "CA", 3, 195, 1, 65, 30.0)]
    mark = transaction(db, lambda d: count_read(d, 99.0))
    assert (mark.reads, mark.resets) == (1, 2)  # the collections so far were resets


def test_card_sales_before_the_upgrade_stay_card_sales(tmp_path: Path) -> None:
    """Card sales (a ``medium:`` holder) were counted in ``slot_counters`` before the
    audit store: the migration books them to ``DA``, not to cash."""
    path = tmp_path / "v.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, step in enumerate(MIGRATIONS[:6], start=1):
        if callable(step):
            step(sqlite_utils.Database(conn))
        else:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    # A1 sold twice for cash (65) and twice by card (70), one card sale after the
    # last collection (at 50), so 1 cash and 1 card sale are interim.
    conn.execute("INSERT INTO slot_counters (slot, vends, value, interim_vends, interim_value)"
                 " VALUES ('A1', 4, 270, 2, 135)")
    for holder, price, settled in (("panel", 65, 10.0), ("medium:card", 70, 20.0),
                                   ("medium:card", 70, 60.0), ("panel", 65, 70.0)):
        conn.execute("INSERT INTO vends (holder, product_name, slot, price, status, "
                     "created_at, settled_at) VALUES (?, 'Cola', 'A1', ?, 'delivered', 0, ?)",
                     (holder, price, settled))
    conn.execute("INSERT INTO events (ts, kind) VALUES (50, 'cashbox_collected')")
    conn.close()
    db = open_db(path)
    migrate(db.conn)
    assert rows(db, "SELECT slot, device, vends, value, interim_vends, interim_value, "
                    "last_sale_at FROM slot_sales ORDER BY device") == [
        ("A1", "CA", 2, 130, 1, 65, 70.0), ("A1", "DA", 2, 140, 1, 70, 60.0)]
