"""The sales book (``controller/store/sales_book.py``): migration 8 from a database that
already holds sales, payment media, and local hours across a daylight-saving change."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.ops.round_report import sales_report
from controller.store import open_db, sales_book
from controller.store.db import seed
from controller.store.schema import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture
def berlin() -> Iterator[None]:
    """Local time with a daylight-saving change (2026-10-25 03:00 CEST -> 02:00 CET)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def database_before_the_sales_book(path: Path) -> sqlite3.Connection:
    """A database as the release before the sales book left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:7]:
        conn.execute("BEGIN")
        if callable(step):
            import sqlite_utils

            step(sqlite_utils.Database(conn))
        else:
            for statement in step:
                conn.execute(statement)
        conn.execute("COMMIT")
    conn.execute("PRAGMA user_version = 7")
    return conn


def test_migration_8_books_the_sales_already_in_the_journal(tmp_path: Path,
                                                            berlin: None) -> None:
    path = tmp_path / "vending.db"
    conn = database_before_the_sales_book(path)
    seed(conn, slots=[("A1", 10), ("A2", 10)], hoppers={50: 200}, hopper_fill=20)
    conn.execute("INSERT INTO users (id, username, password_hash, role, created_at) "
                 "VALUES (1, 'sam', 'x', 'seller', 0)")
    conn.execute("INSERT INTO products (id, name, cost, amount_available, seller_id, slot) "
                 "VALUES (1, 'Cola', 50, 0, 1, 'A1'), (2, 'Water', 100, 5, 1, 'A2')")
    noon = dt.datetime(2026, 3, 9, 12, 30).timestamp()
    vends = [("panel", 1, "Cola", "A1", 50, "delivered", noon),
             ("user:4", 1, "Cola", "A1", 50, "delivered", noon + 60),
             ("medium:card", 2, "Water", "A2", 100, "delivered", noon + 86400),
             ("panel", 2, "Water", "A2", 100, "failed", noon + 86400),
             ("panel", 2, "Water", "A2", 100, "unknown", noon + 86400)]
    conn.executemany("INSERT INTO vends (holder, product_id, product_name, slot, price, status, "
                     "created_at, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(*v[:6], v[6], v[6]) for v in vends])
    conn.close()

    db = open_db(path)
    try:
        assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        levels = db.conn.execute("SELECT id, min_level, low_reported FROM products "
                                 "ORDER BY id").fetchall()
        assert [tuple(r) for r in levels] == [(1, 0, 1), (2, 0, 0)]  # Cola was sold out
        report = sales_report(db, dt.datetime(2026, 3, 10, 18).timestamp(), 3)
    finally:
        db.conn.close()
    assert [(d["date"], d["count"], d["cents"]) for d in report["days"]] == [
        ("2026-03-08", 0, 0), ("2026-03-09", 2, 100), ("2026-03-10", 1, 100)]
    assert report["media"] == [{"medium": "card", "count": 1, "cents": 100},  # a tie: by name
                               {"medium": "cash", "count": 2, "cents": 100}]
    assert report["products"] == [{"slot": "A1", "productName": "Cola", "count": 2, "cents": 100},
                                  {"slot": "A2", "productName": "Water", "count": 1,
                                   "cents": 100}]


def test_the_medium_is_the_journal_holder() -> None:
    assert sales_book.sale_medium("panel") == "cash"
    assert sales_book.sale_medium("user:12") == "cash"
    assert sales_book.sale_medium("medium:card") == "card"


def test_hours_across_the_autumn_clock_change(tmp_path: Path, berlin: None) -> None:
    db = open_db(tmp_path / "vending.db")
    try:
        first_two = dt.datetime(2026, 10, 25, 2, 30, fold=0).timestamp()  # CEST
        second_two = first_two + 3600  # the same wall-clock half hour, now CET
        assert dt.datetime.fromtimestamp(second_two).hour == 2
        for at in (first_two, second_two, second_two + 1):
            sales_book.record_sale(db, product_id=1, product_name="Cola", slot="A1", cents=50,
                                   holder="panel", at=at)
        report = sales_report(db, second_two + 600, 1)
    finally:
        db.conn.close()
    hours = report["hours"]
    starts = [h["start"] for h in hours]
    assert len(set(starts)) == 24
    assert [(h["start"], h["count"]) for h in hours[-2:]] == [
        ("2026-10-25T02:00:00+02:00", 1), ("2026-10-25T02:00:00+01:00", 2)]
    assert report["days"] == [{"date": "2026-10-25", "count": 3, "cents": 150}]
