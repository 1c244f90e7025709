"""The ledger and its two identities.

1. ``cash_in + adjustments - change_paid - cash_collected`` equals the value of
   the cash in the machine (coins in hoppers and cashbox, bills in the stacker).
2. ``cash_in - change_paid`` equals ``sales + outstanding credit``, where
   outstanding credit is every buyer deposit, the panel credit, the price of
   every vend in flight, the unpaid part of every payout in flight, and the
   change still owed by a payout that cannot be accounted for (the payout's ``owed``).

``adjustments`` are an operator's hopper refills and removals (signed), and the
first fill of a new machine.  Both identities must hold after every
transaction; ``vending audit --verify`` and ``GET /machine/audit`` check them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class Identity:
    name: str
    left: int
    right: int

    @property
    def holds(self) -> bool:
        return self.left == self.right


@dataclass(frozen=True)
class Ledger:
    cash_in: int
    adjustments: int
    change_paid: int
    cash_collected: int
    coins_value: int
    sales: int
    deposits: int
    panel_credit: int
    vends_in_flight: int
    payouts_in_flight: int

    @property
    def outstanding(self) -> int:
        return self.deposits + self.panel_credit + self.vends_in_flight + self.payouts_in_flight

    def identities(self) -> list[Identity]:
        return [
            Identity(
                "cash_in + adjustments - change_paid - cash_collected = coins in the machine",
                self.cash_in + self.adjustments - self.change_paid - self.cash_collected,
                self.coins_value,
            ),
            Identity(
                "cash_in - change_paid = sales + outstanding credit",
                self.cash_in - self.change_paid,
                self.sales + self.outstanding,
            ),
        ]

    @property
    def balanced(self) -> bool:
        return all(i.holds for i in self.identities())


def _scalar(db: sqlite_utils.Database, sql: str) -> int:
    row = db.conn.execute(sql).fetchone()
    return int(row[0] or 0) if row else 0


def read_ledger(db: sqlite_utils.Database) -> Ledger:
    counters = {r[0]: int(r[1]) for r in db.conn.execute("SELECT name, lifetime FROM counters")}
    payouts_left = 0
    for amount, paid in db.conn.execute(
        "SELECT amount, paid FROM payouts WHERE status = 'pending'"
    ):
        paid_value = sum(int(c) * int(n) for c, n in json.loads(paid).items())
        payouts_left += int(amount) - paid_value
    payouts_left += _scalar(db, "SELECT SUM(owed) FROM payouts WHERE status = 'settled'")
    return Ledger(
        cash_in=counters.get("cash_in", 0),
        adjustments=counters.get("adjustments", 0),
        change_paid=counters.get("change_paid", 0),
        cash_collected=counters.get("cash_collected", 0),
        coins_value=_scalar(db, "SELECT SUM(coin * (payout + cashbox)) FROM coins")
        + _scalar(db, "SELECT interim FROM counters WHERE name = 'bills_in'"),
        sales=counters.get("sales_value", 0),
        deposits=_scalar(db, "SELECT SUM(deposit) FROM users"),
        panel_credit=_scalar(db, "SELECT credit FROM panel WHERE id = 1"),
        vends_in_flight=_scalar(db, "SELECT SUM(price) FROM vends WHERE status = 'pending' "
                                "AND holder NOT LIKE 'medium:%'"),
        payouts_in_flight=payouts_left,
    )


def verify_lines(ledger: Ledger) -> list[str]:
    """Human-readable verdicts, one per identity."""
    return [
        f"{'ok  ' if i.holds else 'FAIL'} {i.name}: {i.left} vs {i.right}"
        for i in ledger.identities()
    ]
