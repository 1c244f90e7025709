"""Benchmark: ``GET /machine/sales`` over a year of sales, and ``GET /machine/picklist``.

    .venv/bin/python tests/perf/bench_sales.py [--per-day 300] [--repeat 50]
    .venv/bin/python tests/perf/bench_sales.py --short

A database made through the real migrations holds a year of generated sales
(``--per-day`` a day, 24 products, busier at lunch and in the evening, one in
ten paid by a card reader): the vend journal rows and the sales book rows
(``controller/store/sales_book.py``) each sale adds when it settles.  Then the
report for 7, 30 and 90 days and the pick list are read ``--repeat`` times each
on the store's owner thread, as the API does, and their times printed
(best, median, 95th percentile, worst, in milliseconds, and the process's CPU
time per read: on a machine busy with other work the CPU time and the best are
the cost of the read, the others add the waits; the load average is printed).
The target is 50 ms on a Pi: the figures are from whatever machine runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller import money
from controller.accounts import rules as accounts
from controller.catalog import rules as catalog
from controller.ops.round_report import picklist, sales_report
from controller.store import Store, sales_book
from controller.store.db import seed, transaction

SLOTS = [f"{row}{col}" for row in "ABCD" for col in range(1, 7)]
HOUR_WEIGHTS = [0, 0, 0, 0, 0, 0, 1, 3, 5, 4, 4, 6, 10, 9, 5, 4, 5, 7, 8, 7, 5, 3, 1, 0]


def fill(db: Any, per_day: int, now: float, rng: random.Random) -> int:
    """A year of sales up to ``now``, through the sales book; returns how many."""
    seed(db.conn, slots=[(s, 10) for s in SLOTS], hoppers=dict.fromkeys(money.COINS_CENTS, 200),
         hopper_fill=20)
    seller = accounts.create_user_cli(db, "seller", "seller", "seller-pass-1")
    products = [catalog.create_product(db, seller, {
        "productName": f"Product {slot}", "cost": 50 + 5 * i, "amountAvailable": 10,
        "slot": slot}) for i, slot in enumerate(SLOTS)]
    weights = [1 / (i + 1) for i in range(len(products))]  # a few best sellers
    first_day = now - 365 * 86400
    total = 0

    def one_day(day: int) -> None:
        nonlocal total
        midnight = sales_book.day_start(dt.date.fromtimestamp(first_day + day * 86400))
        hours = rng.choices(range(24), HOUR_WEIGHTS, k=per_day)
        picks = rng.choices(products, weights, k=per_day)
        vends = []
        for hour, product in zip(hours, picks, strict=True):
            at = midnight + hour * 3600 + rng.random() * 3600
            if at > now:
                continue
            holder = "medium:card" if rng.random() < 0.1 else "panel"
            sales_book.record_sale(db, product_id=product["id"],
                                   product_name=product["productName"], slot=product["slot"],
                                   cents=product["cost"], holder=holder, at=at)
            vends.append((holder, product["id"], product["productName"], product["slot"],
                          product["cost"], at, at))
            total += 1
        db.conn.executemany(
            "INSERT INTO vends (holder, product_id, product_name, slot, price, status, "
            "outcome, created_at, settled_at) VALUES (?, ?, ?, ?, ?, 'delivered', "
            "'delivered', ?, ?)", vends)

    for day in range(366):
        transaction(db, lambda _db, d=day: one_day(d))
    return total


def figures(times_s: list[float], cpu_s: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times_s)
    return {"min_ms": round(ms[0], 3), "median_ms": round(statistics.median(ms), 3),
            "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 3),
            "max_ms": round(ms[-1], 3),
            "cpu_median_ms": round(statistics.median(cpu_s) * 1000, 3)}


async def timed(store: Store, read: Any, repeat: int) -> tuple[Any, dict[str, float]]:
    """``read`` on the store's owner thread ``repeat`` times: the last answer, the figures."""
    times, cpu = [], []
    answer = None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        answer = await store.run(read)
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return answer, figures(times, cpu)


async def measure(path: Path, now: float, repeat: int) -> dict[str, Any]:
    store = Store(path)
    await store.start()
    try:
        out: dict[str, Any] = {}
        for days in (7, 30, 90):
            report, out[f"sales_days_{days}"] = await timed(
                store, lambda db, d=days: sales_report(db, now, d), repeat)
            assert len(report["days"]) == days and report["products"]
        _, out["picklist"] = await timed(store, picklist, repeat)
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
        return out
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-day", type=int, default=300, help="sales a day (default 300)")
    parser.add_argument("--repeat", type=int, default=50, help="reads of each report")
    parser.add_argument("--short", action="store_true", help="a few seconds: 20 a day")
    args = parser.parse_args()
    per_day, repeat = (20, 5) if args.short else (args.per_day, args.repeat)
    rng = random.Random(7)
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vending.db"
        store = Store(path)

        async def build() -> tuple[int, float]:
            await store.start()
            began = time.perf_counter()
            try:
                return await store.run(lambda db: fill(db, per_day, now, rng)), \
                    time.perf_counter() - began
            finally:
                await store.close()

        sales, fill_s = asyncio.run(build())
        reads = asyncio.run(measure(path, now, repeat))
        size_mib = path.stat().st_size / 2**20
    print(json.dumps({"benchmark": "sales", "sales": sales, "days_of_sales": 366,
                      "per_day": per_day, "fill_s": round(fill_s, 2),
                      "database_mib": round(size_mib, 2), "repeat": repeat, **reads},
                     indent=2))


if __name__ == "__main__":
    main()
