"""Benchmark: what SQLite costs per money transaction, and how the journal grows.

    .venv/bin/python tests/perf/bench_store.py [--n 300] [--sales 10000]
    .venv/bin/python tests/perf/bench_store.py --short

On the store the machine uses (one owner thread, WAL), through the journal
functions the machine calls: the time of one coin-credit transaction and of
one vend reservation, with ``synchronous=FULL`` (an fsync per commit, what an
SD card pays) and ``synchronous=OFF`` (no fsync: the rest of the cost).  Then
``--sales`` whole sales (three coins, a reservation, a delivered vend; the
slot restocked every ten) and the database's growth, per 10,000 sales and
per table (from SQLite's ``dbstat``); then as many sales again with a backup
and the event log's retention rule after every tenth (``controller/store/retention.py``,
the ``RETAINED_ROWS`` newest events kept), and the growth with it.  The database
lives in a temporary directory: on tmpfs an fsync is nearly free, so run it with ``TMPDIR`` on the
card or disk you care about.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller import money
from controller.accounts import rules as accounts
from controller.catalog import rules as catalog
from controller.config.retention import RetentionConfig
from controller.ops.backup import backup_database, prune_archived_events
from controller.store import Store, journal
from controller.store.credit import PANEL
from controller.store.db import seed, transaction
from controller.store.inventory import credit_coin
from tests.perf.common import emit

PRICE_COINS = (50, 10, 5)  # 0.65
RETAINED_ROWS = 5_000


def _setup(db: Any) -> int:
    seed(db.conn, slots=[("A1", 10)], hoppers=dict.fromkeys(money.COINS_CENTS, 100_000),
         hopper_fill=20)
    seller = accounts.create_user_cli(db, "seller", "seller", "seller-pass-1")
    product = catalog.create_product(db, seller, {"productName": "Cola", "cost": 65,
                                                  "amountAvailable": 10, "slot": "A1"})
    return int(product["id"])


def _restock(db: Any, product_id: int) -> None:
    db.conn.execute("UPDATE products SET amount_available = 10 WHERE id = ?", (product_id,))


def _credit(db: Any, coin: int) -> str:
    return credit_coin(db, coin, PANEL)


def _deliver(db: Any, ticket: journal.VendTicket) -> None:
    journal.settle_vend(db, ticket, "delivered", True)


def _sale(db: Any, product_id: int) -> None:
    ticket = journal.reserve_vend(db, PANEL, product_id)
    journal.settle_vend(db, ticket, "delivered", True)


async def per_transaction_ms(store: Store, product_id: int, n: int) -> dict[str, float]:
    coin_s = vend_s = 0.0
    for i in range(n):
        for coin in PRICE_COINS:
            started = time.perf_counter()
            await store.tx(functools.partial(_credit, coin=coin))
            coin_s += time.perf_counter() - started
        started = time.perf_counter()
        ticket = await store.tx(lambda db: journal.reserve_vend(db, PANEL, product_id))
        vend_s += time.perf_counter() - started
        await store.tx(functools.partial(_deliver, ticket=ticket))
        if i % 10 == 9:
            await store.tx(lambda db: _restock(db, product_id))
    return {"coin_credit_ms": round(coin_s / (n * len(PRICE_COINS)) * 1e3, 3),
            "vend_reservation_ms": round(vend_s / n * 1e3, 3)}


def _size_bytes(db: Any) -> int:
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    free = db.conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * db.conn.execute("PRAGMA page_size").fetchone()[0])


def _by_table(db: Any) -> dict[str, int]:
    try:
        rows = db.conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        return {}
    return {str(name): int(size) for name, size in rows}


def _many_sales(db: Any, product_id: int, sales: int) -> None:
    for i in range(sales):
        transaction(db, lambda d: [credit_coin(d, c, PANEL)
                                           for c in PRICE_COINS])
        transaction(db, lambda d: _sale(d, product_id))
        if i % 10 == 9:
            transaction(db, lambda d: _restock(d, product_id))


async def growth(store: Store, product_id: int, sales: int) -> dict[str, Any]:
    await store.run(lambda db: db.conn.execute("PRAGMA synchronous = OFF"))
    before, tables_before = await store.run(lambda db: (_size_bytes(db), _by_table(db)))
    await store.run(lambda db: _many_sales(db, product_id, sales))
    after, tables_after = await store.run(lambda db: (_size_bytes(db), _by_table(db)))
    scale = 10_000 / sales
    grown = {name: round((size - tables_before.get(name, 0)) * scale / 1024)
             for name, size in tables_after.items()
             if size - tables_before.get(name, 0) > 0}
    return {"sales": sales, "kib_per_10000_sales": round((after - before) * scale / 1024),
            "kib_per_10000_sales_by_table": dict(sorted(grown.items(), key=lambda kv: -kv[1]))}


async def growth_with_retention(store: Store, product_id: int, sales: int,
                                backups: Path) -> dict[str, Any]:
    """The same sales with a backup (and the retention rule) after every tenth of them:
    the rule keeps the ``RETAINED_ROWS`` newest events (no age limit), as a machine
    backed up nightly keeps its last days."""
    rule = RetentionConfig(events_keep_days=0, events_keep_rows=RETAINED_ROWS)

    async def back_up(night: int) -> int:
        copy = await asyncio.to_thread(backup_database, store.path, backups / f"{night}.db")
        pruned: int = await asyncio.to_thread(prune_archived_events, store.path, copy, rule,
                                              telemetry=False)
        copy.unlink()
        return pruned

    await back_up(-1)  # the rule in force from the start: the table at its steady size
    before, tables_before = await store.run(lambda db: (_size_bytes(db), _by_table(db)))
    pruned = 0
    for night in range(10):
        await store.run(lambda db: _many_sales(db, product_id, max(1, sales // 10)))
        pruned += await back_up(night)
    after, tables_after = await store.run(lambda db: (_size_bytes(db), _by_table(db)))
    scale = 10_000 / (max(1, sales // 10) * 10)
    grown = {name: round((size - tables_before.get(name, 0)) * scale / 1024)
             for name, size in tables_after.items()
             if size - tables_before.get(name, 0) > 0}
    return {"sales": max(1, sales // 10) * 10, "backups": 10, "events_kept": RETAINED_ROWS,
            "events_pruned": pruned,
            "kib_per_10000_sales": round((after - before) * scale / 1024),
            "kib_per_10000_sales_by_table": dict(sorted(grown.items(), key=lambda kv: -kv[1]))}


async def run(n: int, sales: int) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "store", "transactions": n}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store.db")
        await store.start()
        try:
            product_id = await store.run(_setup)
            result["synchronous_full"] = await per_transaction_ms(store, product_id, n)
            await store.run(lambda db: db.conn.execute("PRAGMA synchronous = OFF"))
            result["synchronous_off"] = await per_transaction_ms(store, product_id, n)
            result["journal_growth"] = await growth(store, product_id, sales)
            backups = Path(tmp) / "backups"
            backups.mkdir()
            result["journal_growth_with_retention"] = await growth_with_retention(
                store, product_id, sales, backups)
        finally:
            await store.close()
    result["database_dir"] = tempfile.gettempdir()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="timed sales per setting")
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--short", action="store_true", help="a few seconds, for the test suite")
    args = parser.parse_args()
    emit(asyncio.run(run(20, 200) if args.short else run(args.n, args.sales)))


if __name__ == "__main__":
    main()
