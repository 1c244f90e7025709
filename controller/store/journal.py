"""The vend and payout journal: persist before you act.

A vend or payout row is written in the same transaction as the credit and
stock it reserves, before the command goes to the hardware, and settled
afterwards; boot recovery reconciles rows still ``pending``
(``controller.recovery``).  Every function runs on the store's owner thread
inside the caller's transaction; none does hardware I/O.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from controller import money
from controller.errors import CannotMakeChange, InsufficientFunds, OutOfStock
from controller.store.counters import (
    CASH,
    CASHLESS_1,
    bump,
    count_slot_failure,
    count_slot_vend,
)
from controller.store.credit import add_credit, get_credit, is_external
from controller.store.event_log import append_event, row_id
from controller.store.inventory import pay_coins, payout_inventory
from controller.store.products import product_row, rearm_low, report_if_low, set_slot_status
from controller.store.sales_book import record_sale

# --- vends ------------------------------------------------------------------


@dataclass(frozen=True)
class VendTicket:
    vend_id: int
    product_id: int
    product_name: str
    slot: str
    price: int
    holder: str


def check_purchase(db: sqlite_utils.Database, holder: str, product_id: int,
                   amount: int) -> dict[str, Any]:
    """Refuse before anything moves: stock, credit, change.  Returns the product row."""
    product = check_stock(db, product_id, amount)
    credit = get_credit(db, holder)
    total = product["cost"] * amount
    if credit < total:
        raise InsufficientFunds(
            f"credit {money.format_cents(credit)} does not cover {money.format_cents(total)}")
    if money.make_change(credit - total, payout_inventory(db)) is None:
        raise CannotMakeChange(
            f"cannot pay {money.format_cents(credit - total)} in change from the coins held")
    return product


def check_stock(db: sqlite_utils.Database, product_id: int, amount: int) -> dict[str, Any]:
    """``out_of_stock`` unless ``amount`` units can be sold from a working slot."""
    product = product_row(db, product_id)
    if product["status"] == "out_of_order":
        raise OutOfStock(f"slot {product['slot']} is out of order")
    if product["amount_available"] < amount:
        raise OutOfStock(f"only {product['amount_available']} of {product['name']} available")
    return product


def reserve_vend(db: sqlite_utils.Database, holder: str, product_id: int,
                 price: int | None = None) -> VendTicket:
    """Journal a vend: one unit out of stock and, unless the holder's medium holds the
    money itself (a card reader approved ``price``), the price out of the holder's
    credit."""
    if is_external(holder):
        product = dict(check_stock(db, product_id, 1))
        if price is not None:
            product["cost"] = price
    else:
        product = check_purchase(db, holder, product_id, 1)
        add_credit(db, holder, -product["cost"])
    db.conn.execute("UPDATE products SET amount_available = amount_available - 1 WHERE id = ?",
                    (product_id,))
    vends = db.table("vends")
    vends.insert({"holder": holder, "product_id": product_id, "product_name": product["name"],
                  "slot": product["slot"], "price": product["cost"], "status": "pending",
                  "created_at": time.time()})
    vend_id = row_id(vends.last_pk)
    append_event(db, "vend_started", vend=vend_id, slot=product["slot"], price=product["cost"],
                 holder=holder)
    return VendTicket(vend_id, product_id, product["name"], product["slot"], product["cost"],
                      holder)


def settle_vend(db: sqlite_utils.Database, ticket: VendTicket, outcome: str,
                delivered: bool, at: float | None = None) -> None:
    """A delivered vend becomes a sale (dated ``at``, epoch seconds, or now: the sales
    book, and a ``stock_low`` event when it took the slot to its minimum); a failed one
    gives the unit and the credit back and puts the slot out of order."""
    status = "delivered" if delivered else "failed"
    now = time.time() if at is None else at
    db.table("vends").update(ticket.vend_id, {"status": status, "outcome": outcome,
                                              "settled_at": now})
    if delivered:
        cashless = is_external(ticket.holder)
        bump(db, "cashless_value" if cashless else "sales_value", ticket.price)
        bump(db, "cashless_count" if cashless else "sales_count", 1)
        count_slot_vend(db, ticket.slot, ticket.price, CASHLESS_1 if cashless else CASH, now)
        record_sale(db, product_id=ticket.product_id, product_name=ticket.product_name,
                    slot=ticket.slot, cents=ticket.price, holder=ticket.holder, at=now)
        append_event(db, "vend_delivered", vend=ticket.vend_id, slot=ticket.slot)
        report_if_low(db, ticket.product_id)
        return
    add_credit(db, ticket.holder, ticket.price)
    db.conn.execute("UPDATE products SET amount_available = amount_available + 1 WHERE id = ?",
                    (ticket.product_id,))
    rearm_low(db, ticket.product_id)
    bump(db, "failed_vends", 1)
    count_slot_failure(db, ticket.slot)
    set_slot_status(db, ticket.slot, "out_of_order", f"vend failed: {outcome}")
    append_event(db, "vend_failed", vend=ticket.vend_id, slot=ticket.slot, outcome=outcome)


def open_vends(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.table("vends").rows_where("status = 'pending'", order_by="id"))


def mark_vend_unknown(db: sqlite_utils.Database, vend: Mapping[str, Any]) -> None:
    """Boot recovery of a vend cut short: not charged, slot flagged for a check.

    The unit stays out of stock: if it dropped, the count is right; if it did
    not, the machine holds one more than it sells until the operator checks.
    Never selling what may not be there is the safe side.
    """
    add_credit(db, str(vend["holder"]), int(vend["price"]))
    db.table("vends").update(vend["id"], {"status": "unknown", "outcome": "power_cut",
                                          "settled_at": time.time()})
    set_slot_status(db, str(vend["slot"]), "check", "a vend was cut short: check the spiral")
    append_event(db, "vend_recovered", vend=vend["id"], slot=vend["slot"], charged=False)


# --- payouts ----------------------------------------------------------------


@dataclass(frozen=True)
class PayoutTicket:
    payout_id: int
    holder: str
    amount: int
    plan: dict[int, int]


def _coin_map_json(value: Mapping[int, int]) -> str:
    return json.dumps({str(c): n for c, n in value.items()})


def open_payout(db: sqlite_utils.Database, holder: str, reason: str) -> PayoutTicket | None:
    """Journal a payout of the holder's whole credit; None when there is nothing to pay.

    The plan is fixed here from the real payout inventory; the credit moves
    into the journal row.
    """
    amount = get_credit(db, holder)
    if amount <= 0:
        return None
    plan = money.require_change(amount, payout_inventory(db))
    add_credit(db, holder, -amount)
    payouts = db.table("payouts")
    payouts.insert({"holder": holder, "amount": amount, "plan": _coin_map_json(plan),
                    "status": "pending", "reason": reason, "created_at": time.time()})
    payout_id = row_id(payouts.last_pk)
    append_event(db, "payout_started", payout=payout_id, holder=holder, amount=amount,
                 plan={str(c): n for c, n in plan.items()})
    return PayoutTicket(payout_id, holder, amount, plan)


def _payout_json(db: sqlite_utils.Database, payout_id: int, column: str) -> dict[int, int]:
    row = db.table("payouts").get(payout_id)
    return {int(k): int(v) for k, v in json.loads(row[column]).items()}


def record_hopper_counter(db: sqlite_utils.Database, payout_id: int, coin: int,
                          counter: int, paid: int = 0, unpaid: int = 0,
                          dispense_count: int | None = None) -> None:
    """Before a dispense: the hopper's event counter, its last payout's
    ``paid``/``unpaid`` figures and its lifetime dispense count (None: the
    hopper keeps none), to reconcile after a crash."""
    row = db.table("payouts").get(payout_id)
    counters = json.loads(row["counters"])
    counters[str(coin)] = counter
    before = json.loads(row["before_status"])
    before[str(coin)] = [paid, unpaid] if dispense_count is None else [paid, unpaid,
                                                                        dispense_count]
    db.table("payouts").update(payout_id, {"counters": json.dumps(counters),
                                           "before_status": json.dumps(before)})


def hopper_status_before(payout: Mapping[str, Any], coin: int) -> tuple[int, int] | None:
    """The ``(paid, unpaid)`` recorded before this payout's dispense of ``coin``."""
    figures = json.loads(payout.get("before_status") or "{}").get(str(coin))
    return (int(figures[0]), int(figures[1])) if figures else None


def dispense_count_before(payout: Mapping[str, Any], coin: int) -> int | None:
    """The hopper's lifetime dispense count recorded before this payout's dispense
    of ``coin`` (None: not recorded, the hopper keeps none)."""
    figures = json.loads(payout.get("before_status") or "{}").get(str(coin))
    return int(figures[2]) if figures and len(figures) > 2 else None


def record_coins_paid(db: sqlite_utils.Database, payout_id: int, coin: int,
                      paid_total: int) -> None:
    """The hopper of ``coin`` has paid ``paid_total`` coins for this payout so far.

    Only the coins not yet recorded move (idempotent).
    """
    paid = _payout_json(db, payout_id, "paid")
    new = paid_total - paid.get(coin, 0)
    if new <= 0:
        return
    paid[coin] = paid_total
    db.table("payouts").update(payout_id, {"paid": _coin_map_json(paid)})
    pay_coins(db, coin, new)


def replan_payout(db: sqlite_utils.Database, payout_id: int,
                  done: Iterable[int]) -> dict[int, int] | None:
    """After a hopper paid short: plan what is still owed from the other hoppers.

    ``done`` are the coins whose hoppers this payout has already used (each is
    used once, so its journaled count stays one dispense's).  The new plan
    keeps their paid counts and adds the fewest coins of the rest; None (and
    no change) when the rest cannot make the amount.
    """
    row = db.table("payouts").get(payout_id)
    if row["status"] != "pending":
        return None
    used = set(done)
    paid = _payout_json(db, payout_id, "paid")
    owed = int(row["amount"]) - money.plan_value(paid)
    if owed <= 0:
        return None
    rest = money.make_change(owed, {c: n for c, n in payout_inventory(db).items()
                                    if c not in used})
    if rest is None:
        return None
    plan = {c: paid.get(c, 0) for c in used} | rest
    db.table("payouts").update(payout_id, {"plan": _coin_map_json(plan)})
    append_event(db, "payout_replanned", payout=payout_id,
                 plan={str(c): n for c, n in plan.items()})
    return plan


def settle_payout(db: sqlite_utils.Database, payout_id: int) -> tuple[list[int], int]:
    """Close a payout; whatever was not paid goes back to the holder's credit.

    Returns the coins paid (largest first) and the unpaid value.
    """
    row = db.table("payouts").get(payout_id)
    paid = _payout_json(db, payout_id, "paid")
    if row["status"] != "pending":
        return money.coin_list(paid), 0
    unpaid = int(row["amount"]) - money.plan_value(paid)
    if unpaid > 0:
        add_credit(db, str(row["holder"]), unpaid)
    elif unpaid < 0:
        _book_overpaid(db, payout_id, -unpaid)
        unpaid = 0
    db.table("payouts").update(payout_id, {"status": "settled", "settled_at": time.time()})
    append_event(db, "payout_settled", payout=payout_id, paid={str(c): n for c, n in paid.items()},
                 unpaid=unpaid)
    return money.coin_list(paid), unpaid


def hold_payout_owed(db: sqlite_utils.Database, payout_id: int, coin: int,
                     count: int) -> int:
    """A dispense of ``count`` ``coin`` coins that cannot be accounted for (a Flow
    hopper whose figures repeat its last payout's): never booked as paid, never
    paid again.  Its value stays owed change (the settled payout's ``owed``,
    counted as outstanding credit); the rest of what was not paid goes back to
    the holder.
    Returns the value held owed."""
    row = db.table("payouts").get(payout_id)
    if row["status"] != "pending":
        return 0
    paid_value = money.plan_value(_payout_json(db, payout_id, "paid"))
    owed = min(coin * count, int(row["amount"]) - paid_value)
    rest = int(row["amount"]) - paid_value - owed
    if rest > 0:
        add_credit(db, str(row["holder"]), rest)
    db.table("payouts").update(payout_id, {"status": "settled", "owed": owed,
                                           "settled_at": time.time()})
    append_event(db, "payout_unaccounted", payout=payout_id, coin=coin, count=count,
                 owed=owed, returned=rest)
    return owed


def _book_overpaid(db: sqlite_utils.Database, payout_id: int, over: int) -> None:
    """A hopper paid more than owed (a coin in flight after the motor stopped).
    Those coins left the machine but were not change: book them as a loss, a
    removal from the hoppers, so both ledger identities still hold."""
    bump(db, "change_paid", -over)
    bump(db, "adjustments", -over)
    bump(db, "overpaid", over)
    append_event(db, "payout_overpaid", payout=payout_id, value=over)


def open_payouts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.table("payouts").rows_where("status = 'pending'", order_by="id"))


def account_busy(db: sqlite_utils.Database, holder: str) -> bool:
    """A vend or payout of this holder is still open."""
    return bool(db.conn.execute(
        "SELECT (SELECT COUNT(*) FROM vends WHERE holder = ? AND status = 'pending') + "
        "(SELECT COUNT(*) FROM payouts WHERE holder = ? AND status = 'pending')",
        (holder, holder)).fetchone()[0])
