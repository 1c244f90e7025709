"""The sales book: every delivered vend summed per local hour and per local day.

A report over a year of sales must answer in milliseconds on a Pi, so the
report never reads the vend journal: each delivered vend adds one to a row of
``sales_hours`` (the epoch second at which its local clock hour began) and of
``sales_days`` (its local date, ``YYYY-MM-DD``), keyed by product id and
payment medium, in the transaction that settles the vend.  A report reads at
most 24 hour rows per product and medium, and one day row per product, medium
and day asked for.

Hours and days are the machine's local time (the process's time zone, as
the Pi is set): a sale at 23:59:59 counts on its day, one at 00:00:00 on the
next.  Every function runs on the store's owner thread; the writes inside the
caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils

CASH = "cash"
"""The medium of a sale paid from stored credit: coins at the panel, a buyer's deposit."""


def sale_medium(holder: str) -> str:
    """The payment medium a journal holder stands for: ``medium:<name>`` is that
    medium (a card reader), every credit holder is ``cash``."""
    return holder.split(":", 1)[1] if holder.startswith("medium:") else CASH


def hour_start(ts: float) -> int:
    """The epoch second at which the local clock hour holding ``ts`` began."""
    local = dt.datetime.fromtimestamp(ts)
    return int(local.replace(minute=0, second=0, microsecond=0).timestamp())


def local_date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).date().isoformat()


def day_start(day: dt.date) -> float:
    """The epoch second of local midnight at the start of ``day``."""
    return dt.datetime.combine(day, dt.time()).timestamp()


# --- the schema (migration 8) ------------------------------------------------------


def add_min_level_and_sales_hours(db: sqlite_utils.Database) -> None:
    """8: ``products.min_level`` and ``low_reported``; the two summary tables, filled
    from the delivered vends already in the journal."""
    db.execute("ALTER TABLE products ADD COLUMN min_level INTEGER NOT NULL DEFAULT 0 "
               "CHECK (min_level >= 0)")
    db.execute("ALTER TABLE products ADD COLUMN low_reported INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE products SET low_reported = 1 WHERE amount_available <= 0")
    for table, key in (("sales_hours", "hour INTEGER NOT NULL"),
                       ("sales_days", "day TEXT NOT NULL")):
        db.execute(f"""CREATE TABLE {table} (
            {key},
            product_id INTEGER NOT NULL,
            medium TEXT NOT NULL,
            slot TEXT NOT NULL,
            product_name TEXT NOT NULL,
            count INTEGER NOT NULL,
            cents INTEGER NOT NULL,
            PRIMARY KEY ({key.split()[0]}, product_id, medium)
        ) WITHOUT ROWID""")
    rows = db.conn.execute("SELECT holder, product_id, product_name, slot, price, settled_at "
                           "FROM vends WHERE status = 'delivered' ORDER BY id")
    for r in rows.fetchall():
        record_sale(db, product_id=int(r[1] or 0), product_name=str(r[2]), slot=str(r[3]),
                    cents=int(r[4]), holder=str(r[0]), at=float(r[5] or 0))


# --- writing -----------------------------------------------------------------------


def record_sale(db: sqlite_utils.Database, *, product_id: int, product_name: str, slot: str,
                cents: int, holder: str, at: float) -> None:
    """One delivered unit, sold at ``at`` (epoch seconds), into both summaries."""
    medium = sale_medium(holder)
    for table, key in (("sales_hours", hour_start(at)), ("sales_days", local_date(at))):
        column = "hour" if table == "sales_hours" else "day"
        db.conn.execute(
            f"INSERT INTO {table} ({column}, product_id, medium, slot, product_name, count, "
            "cents) VALUES (?, ?, ?, ?, ?, 1, ?) "
            f"ON CONFLICT({column}, product_id, medium) DO UPDATE SET count = count + 1, "
            "cents = cents + excluded.cents, slot = excluded.slot, "
            "product_name = excluded.product_name",
            (key, product_id, medium, slot, product_name, cents))


# --- reading -----------------------------------------------------------------------


def hours(db: sqlite_utils.Database, starts: list[int]) -> list[dict[str, Any]]:
    """``{start, count, cents}`` for each local hour starting at one of ``starts``."""
    found = {int(r[0]): (int(r[1]), int(r[2])) for r in db.conn.execute(
        "SELECT hour, SUM(count), SUM(cents) FROM sales_hours WHERE hour BETWEEN ? AND ? "
        "GROUP BY hour", (min(starts), max(starts)))}
    return [{"start": start, "count": found.get(start, (0, 0))[0],
             "cents": found.get(start, (0, 0))[1]} for start in starts]


def days(db: sqlite_utils.Database, dates: list[str]) -> list[dict[str, Any]]:
    """``{date, count, cents}`` for each local date of ``dates``."""
    found = {str(r[0]): (int(r[1]), int(r[2])) for r in db.conn.execute(
        "SELECT day, SUM(count), SUM(cents) FROM sales_days WHERE day BETWEEN ? AND ? "
        "GROUP BY day", (min(dates), max(dates)))}
    return [{"date": date, "count": found.get(date, (0, 0))[0],
             "cents": found.get(date, (0, 0))[1]} for date in dates]


def products_and_media(db: sqlite_utils.Database, first: str, last: str
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per product (best sellers first) and per payment medium (largest first) sold from
    ``first`` to ``last`` (local dates), from one read of the day rows.

    A product still on the machine is named by its slot and name now (a product
    moved to another slot keeps its sales); one that is gone by those of its
    last sale.
    """
    current = {int(r[0]): (str(r[1]), str(r[2]))
               for r in db.conn.execute("SELECT id, slot, name FROM products")}
    sold: dict[int, dict[str, Any]] = {}
    last_day: dict[int, str] = {}
    media: dict[str, list[int]] = {}
    for r in db.conn.execute(
            "SELECT product_id, medium, MAX(day), slot, product_name, SUM(count), SUM(cents) "
            "FROM sales_days WHERE day BETWEEN ? AND ? GROUP BY product_id, medium",
            (first, last)):
        product_id, count, cents = int(r[0]), int(r[5]), int(r[6])
        entry = sold.setdefault(product_id, {"slot": "", "productName": "", "count": 0,
                                             "cents": 0})
        entry["count"] += count
        entry["cents"] += cents
        if str(r[2]) >= last_day.get(product_id, ""):
            last_day[product_id] = str(r[2])
            entry["slot"], entry["productName"] = current.get(product_id, (str(r[3]),
                                                                           str(r[4])))
        figures = media.setdefault(str(r[1]), [0, 0])
        figures[0] += count
        figures[1] += cents
    products = sorted(sold.values(), key=lambda p: (-p["count"], -p["cents"], p["slot"]))
    by_medium = [{"medium": m, "count": n, "cents": c} for m, (n, c) in
                 sorted(media.items(), key=lambda t: (-t[1][1], t[0]))]
    return products, by_medium
