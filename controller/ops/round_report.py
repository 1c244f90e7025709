"""The operator's round: what sold (``GET /machine/sales``) and what to bring
(``GET /machine/picklist``).

Sales are read from the sales book (``controller.store.sales_book``), never
from the vend journal, so a year of sales answers in milliseconds.  The pick
list is what fills every slot that holds a product to its capacity, summed per
product name, and what fills every hopper to its capacity.  Both are reads:
nothing here changes the machine.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from controller.errors import ValidationError
from controller.money import is_int
from controller.store import Store, sales_book
from controller.store.inventory import inventory_json
from controller.store.products import slots_json

SALES_DAYS_DEFAULT = 7
SALES_DAYS_MAX = 90
HOURS = 24


def sales_report(db: sqlite_utils.Database, now: float, days: int) -> dict[str, Any]:
    """``{hours, days, products, media}`` as of ``now`` (epoch seconds), local time."""
    if not is_int(days) or not 1 <= days <= SALES_DAYS_MAX:
        raise ValidationError(f"days must be an integer from 1 to {SALES_DAYS_MAX}",
                              fields={"days": f"1..{SALES_DAYS_MAX}"})
    this_hour = sales_book.hour_start(now)
    starts = [sales_book.hour_start(this_hour - back * 3600) for back in range(HOURS - 1, -1, -1)]
    today = dt.datetime.fromtimestamp(now).date()
    dates = [(today - dt.timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
    hours = [{**hour, "start": _iso(hour["start"])} for hour in sales_book.hours(db, starts)]
    products, media = sales_book.products_and_media(db, dates[0], dates[-1])
    return {"hours": hours, "days": sales_book.days(db, dates), "products": products,
            "media": media}


def _iso(epoch_s: int) -> str:
    """A local time with its UTC offset, ``2026-12-07T13:00:00+01:00``."""
    return dt.datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="seconds")


def picklist(db: sqlite_utils.Database) -> dict[str, Any]:
    """``{slots, products, coins}``: what to bring to fill every slot and hopper."""
    slots: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for slot in slots_json(db):
        product = slot["product"]
        if product is None:
            continue  # an unused slot: nothing to bring for it
        bring = max(0, slot["capacity"] - int(product["amountAvailable"]))
        slots.append({"slot": slot["slot"], "productName": product["productName"],
                      "amountAvailable": product["amountAvailable"],
                      "capacity": slot["capacity"], "minLevel": product["minLevel"],
                      "bring": bring})
        totals[product["productName"]] = totals.get(product["productName"], 0) + bring
    products = [{"productName": name, "bring": bring}
                for name, bring in sorted(totals.items(), key=lambda t: (-t[1], t[0]))]
    coins = [{"coin": c["coin"], "payout": c["payout"], "capacity": c["capacity"],
              "bring": max(0, c["capacity"] - c["payout"])}
             for c in inventory_json(db) if c["capacity"] > 0]
    return {"slots": slots, "products": products, "coins": coins}


class RoundReport:
    """The two reads, on the store's owner thread, dated by the machine's wall clock."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def sales(self, days: int = SALES_DAYS_DEFAULT) -> dict[str, Any]:
        now = self._clock()
        return await self._store.run(lambda db: sales_report(db, now, days))

    async def picklist(self) -> dict[str, Any]:
        return await self._store.run(picklist)
