"""Journaled money and stock changes: each function is one store transaction.

Persist before you act: a vend or payout row is written in the same
transaction as the credit and stock it reserves, before the command goes to
the hardware, and settled afterwards.  Every function here runs on the store's
owner thread inside ``Store.tx`` (the caller wraps it); none does hardware I/O.

A *holder* of credit is ``"panel"`` (the anonymous customer at the machine) or
``"user:<id>"`` (a buyer account's deposit).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from controller import money
from controller.errors import (
    CannotMakeChange,
    InsufficientFunds,
    NotFound,
    OutOfStock,
)
from controller.store.db import append_event, bump

PANEL = "panel"


def user_holder(user_id: int) -> str:
    return f"user:{user_id}"


def _user_id(holder: str) -> int | None:
    return int(holder.split(":", 1)[1]) if holder.startswith("user:") else None


def find_credit(db: sqlite_utils.Database, holder: str) -> int | None:
    """The holder's credit; None when the holder is an account that is gone."""
    uid = _user_id(holder)
    if uid is None:
        row = db.conn.execute("SELECT credit FROM panel WHERE id = 1").fetchone()
    else:
        row = db.conn.execute("SELECT deposit FROM users WHERE id = ?", (uid,)).fetchone()
    return None if row is None else int(row[0])


def get_credit(db: sqlite_utils.Database, holder: str) -> int:
    credit = find_credit(db, holder)
    if credit is None:
        raise NotFound("no such user")
    return credit


def add_credit(db: sqlite_utils.Database, holder: str, delta: int) -> int:
    uid = _user_id(holder)
    if uid is None:
        db.conn.execute("UPDATE panel SET credit = credit + ? WHERE id = 1", (delta,))
    else:
        db.conn.execute("UPDATE users SET deposit = deposit + ? WHERE id = ?", (delta, uid))
    return get_credit(db, holder)


def payout_inventory(db: sqlite_utils.Database) -> dict[int, int]:
    """Coins usable for change: hopper counts of hoppers that are not faulted."""
    faulted = set(hopper_faults(db))
    return {int(r[0]): int(r[1]) for r in db.conn.execute("SELECT coin, payout FROM coins")
            if int(r[0]) not in faulted}


def hopper_capacity(db: sqlite_utils.Database) -> dict[int, int]:
    return {int(r[0]): int(r[1])
            for r in db.conn.execute("SELECT coin, capacity FROM coins WHERE capacity > 0")}


def hopper_faults(db: sqlite_utils.Database) -> dict[int, str]:
    row = db.conn.execute("SELECT value FROM meta WHERE key = 'hopper_faults'").fetchone()
    return {int(k): str(v) for k, v in json.loads(row[0]).items()} if row else {}


def set_hopper_fault(db: sqlite_utils.Database, coin: int, reason: str | None) -> None:
    faults = hopper_faults(db)
    if reason is None:
        faults.pop(coin, None)
    else:
        faults[coin] = reason
    db.conn.execute(
        "INSERT INTO meta (key, value) VALUES ('hopper_faults', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (json.dumps({str(k): v for k, v in faults.items()}),),
    )


# --- coins in ---------------------------------------------------------------


def device_counter(db: sqlite_utils.Database, device: str) -> int | None:
    row = db.conn.execute("SELECT counter FROM device_state WHERE device = ?",
                          (device,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def set_device_counter(db: sqlite_utils.Database, device: str, counter: int | None) -> None:
    db.conn.execute(
        "INSERT INTO device_state (device, counter) VALUES (?, ?) "
        "ON CONFLICT(device) DO UPDATE SET counter = excluded.counter",
        (device, counter),
    )


def credit_coin(db: sqlite_utils.Database, coin: int, holder: str) -> str:
    """An accepted coin: route it, count it, credit its holder.  Returns the route."""
    payout = {int(r[0]): int(r[1]) for r in db.conn.execute("SELECT coin, payout FROM coins")}
    to_hopper = money.routes_to_hopper(coin, payout, hopper_capacity(db))
    column = "payout" if to_hopper else "cashbox"
    db.conn.execute(f"UPDATE coins SET {column} = {column} + 1 WHERE coin = ?", (coin,))
    bump(db, "cash_in", coin)
    bump(db, "cash_to_hoppers" if to_hopper else "cash_to_cashbox", coin)
    add_credit(db, holder, coin)
    append_event(db, "coin_accepted", coin=coin, holder=holder, route=column)
    return column


# --- vends ------------------------------------------------------------------


@dataclass(frozen=True)
class VendTicket:
    vend_id: int
    product_id: int
    product_name: str
    slot: str
    price: int
    holder: str


def product_row(db: sqlite_utils.Database, product_id: int) -> dict[str, Any]:
    row = db.conn.execute(
        "SELECT p.id, p.name, p.cost, p.amount_available, p.seller_id, p.slot, s.status "
        "FROM products p JOIN slots s ON s.code = p.slot WHERE p.id = ?", (product_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no product {product_id}")
    return dict(row)


def product_in_slot(db: sqlite_utils.Database, slot: str) -> dict[str, Any] | None:
    row = db.conn.execute("SELECT id FROM products WHERE slot = ?", (slot,)).fetchone()
    return product_row(db, int(row[0])) if row else None


def product_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "productName": row["name"], "cost": row["cost"],
            "amountAvailable": row["amount_available"], "sellerId": row["seller_id"],
            "slot": row["slot"]}


def check_purchase(db: sqlite_utils.Database, holder: str, product_id: int,
                   amount: int) -> dict[str, Any]:
    """Refuse before anything moves: stock, credit, change.  Returns the product row."""
    product = product_row(db, product_id)
    if product["amount_available"] < amount or product["status"] == "out_of_order":
        raise OutOfStock(f"only {product['amount_available']} of {product['name']} available"
                         if product["status"] != "out_of_order"
                         else f"slot {product['slot']} is out of order")
    credit = get_credit(db, holder)
    total = product["cost"] * amount
    if credit < total:
        raise InsufficientFunds(
            f"credit {money.format_cents(credit)} does not cover {money.format_cents(total)}")
    if money.make_change(credit - total, payout_inventory(db)) is None:
        raise CannotMakeChange(
            f"cannot pay {money.format_cents(credit - total)} in change from the coins held")
    return product


def reserve_vend(db: sqlite_utils.Database, holder: str, product_id: int) -> VendTicket:
    """Journal a vend: take the price from the credit and one unit from stock."""
    product = check_purchase(db, holder, product_id, 1)
    add_credit(db, holder, -product["cost"])
    db.conn.execute("UPDATE products SET amount_available = amount_available - 1 WHERE id = ?",
                    (product_id,))
    cur = db.conn.execute(
        "INSERT INTO vends (holder, product_id, product_name, slot, price, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
        (holder, product_id, product["name"], product["slot"], product["cost"], time.time()),
    )
    vend_id = int(cur.lastrowid or 0)
    append_event(db, "vend_started", vend=vend_id, slot=product["slot"], price=product["cost"],
                 holder=holder)
    return VendTicket(vend_id, product_id, product["name"], product["slot"], product["cost"],
                      holder)


def settle_vend(db: sqlite_utils.Database, ticket: VendTicket, outcome: str,
                delivered: bool) -> None:
    """A delivered vend becomes a sale; a failed one gives the credit and the unit back."""
    now = time.time()
    if delivered:
        db.conn.execute("UPDATE vends SET status = 'delivered', outcome = ?, settled_at = ? "
                        "WHERE id = ?", (outcome, now, ticket.vend_id))
        bump(db, "sales_value", ticket.price)
        bump(db, "sales_count", 1)
        db.conn.execute(
            "UPDATE slot_counters SET vends = vends + 1, value = value + ?, "
            "interim_vends = interim_vends + 1, interim_value = interim_value + ? WHERE slot = ?",
            (ticket.price, ticket.price, ticket.slot))
        append_event(db, "vend_delivered", vend=ticket.vend_id, slot=ticket.slot)
        return
    db.conn.execute("UPDATE vends SET status = 'failed', outcome = ?, settled_at = ? "
                    "WHERE id = ?", (outcome, now, ticket.vend_id))
    add_credit(db, ticket.holder, ticket.price)
    db.conn.execute("UPDATE products SET amount_available = amount_available + 1 WHERE id = ?",
                    (ticket.product_id,))
    bump(db, "failed_vends", 1)
    db.conn.execute("UPDATE slot_counters SET failed = failed + 1, "
                    "interim_failed = interim_failed + 1 WHERE slot = ?", (ticket.slot,))
    set_slot_status(db, ticket.slot, "out_of_order", f"vend failed: {outcome}")
    append_event(db, "vend_failed", vend=ticket.vend_id, slot=ticket.slot, outcome=outcome)


def set_slot_status(db: sqlite_utils.Database, slot: str, status: str,
                    reason: str | None) -> None:
    db.conn.execute("UPDATE slots SET status = ?, status_reason = ? WHERE code = ?",
                    (status, reason, slot))
    append_event(db, "slot_status", slot=slot, status=status, reason=reason)


# --- payouts ----------------------------------------------------------------


@dataclass(frozen=True)
class PayoutTicket:
    payout_id: int
    holder: str
    amount: int
    plan: dict[int, int]


def open_payout(db: sqlite_utils.Database, holder: str, reason: str,
                amount: int | None = None) -> PayoutTicket | None:
    """Journal a payout of the holder's whole credit (or ``amount`` of it).

    The plan is fixed here from the real payout inventory; the credit moves
    into the journal row.  None when there is nothing to pay.
    """
    credit = get_credit(db, holder)
    amount = credit if amount is None else amount
    if amount <= 0:
        return None
    if amount > credit:
        raise InsufficientFunds("payout larger than the credit")
    plan = money.require_change(amount, payout_inventory(db))
    add_credit(db, holder, -amount)
    cur = db.conn.execute(
        "INSERT INTO payouts (holder, amount, plan, status, reason, created_at) "
        "VALUES (?, ?, ?, 'pending', ?, ?)",
        (holder, amount, json.dumps({str(c): n for c, n in plan.items()}), reason, time.time()),
    )
    payout_id = int(cur.lastrowid or 0)
    append_event(db, "payout_started", payout=payout_id, holder=holder, amount=amount,
                 plan={str(c): n for c, n in plan.items()})
    return PayoutTicket(payout_id, holder, amount, plan)


def _payout_json(db: sqlite_utils.Database, payout_id: int, column: str) -> dict[int, int]:
    row = db.conn.execute(f"SELECT {column} FROM payouts WHERE id = ?", (payout_id,)).fetchone()
    return {int(k): int(v) for k, v in json.loads(row[0]).items()}


def _set_payout_json(db: sqlite_utils.Database, payout_id: int, column: str,
                     value: Mapping[int, int]) -> None:
    db.conn.execute(f"UPDATE payouts SET {column} = ? WHERE id = ?",
                    (json.dumps({str(k): v for k, v in value.items()}), payout_id))


def record_hopper_counter(db: sqlite_utils.Database, payout_id: int, coin: int,
                          counter: int, paid: int = 0, unpaid: int = 0) -> None:
    """Before a dispense: the hopper's event counter and its last payout's
    ``paid``/``unpaid`` figures, to reconcile after a crash."""
    counters = _payout_json(db, payout_id, "counters")
    counters[coin] = counter
    _set_payout_json(db, payout_id, "counters", counters)
    row = db.conn.execute("SELECT before_status FROM payouts WHERE id = ?",
                          (payout_id,)).fetchone()
    before = json.loads(row[0])
    before[str(coin)] = [paid, unpaid]
    db.conn.execute("UPDATE payouts SET before_status = ? WHERE id = ?",
                    (json.dumps(before), payout_id))


def hopper_status_before(payout: Mapping[str, Any], coin: int) -> tuple[int, int] | None:
    """The ``(paid, unpaid)`` recorded before this payout's dispense of ``coin``."""
    figures = json.loads(payout.get("before_status") or "{}").get(str(coin))
    return (int(figures[0]), int(figures[1])) if figures else None


def record_coins_paid(db: sqlite_utils.Database, payout_id: int, coin: int,
                      paid_total: int) -> int:
    """The hopper of ``coin`` has paid ``paid_total`` coins for this payout so far.

    Only the coins not yet recorded move (idempotent); returns how many did.
    """
    paid = _payout_json(db, payout_id, "paid")
    new = paid_total - paid.get(coin, 0)
    if new <= 0:
        return 0
    paid[coin] = paid_total
    _set_payout_json(db, payout_id, "paid", paid)
    db.conn.execute("UPDATE coins SET payout = MAX(payout - ?, 0) WHERE coin = ?", (new, coin))
    bump(db, "change_paid", coin * new)
    return new


def replan_payout(db: sqlite_utils.Database, payout_id: int,
                  done: Iterable[int]) -> dict[int, int] | None:
    """After a hopper paid short: plan what is still owed from the other hoppers.

    ``done`` are the coins whose hoppers this payout has already used (each is
    used once, so its journaled count stays one dispense's).  The new plan
    keeps their paid counts and adds the fewest coins of the rest; None (and
    no change) when the rest cannot make the amount.
    """
    row = db.conn.execute("SELECT amount FROM payouts WHERE id = ? AND status = 'pending'",
                          (payout_id,)).fetchone()
    if row is None:
        return None
    used = set(done)
    paid = _payout_json(db, payout_id, "paid")
    owed = int(row[0]) - money.plan_value(paid)
    if owed <= 0:
        return None
    rest = money.make_change(owed, {c: n for c, n in payout_inventory(db).items()
                                    if c not in used})
    if rest is None:
        return None
    plan = {c: paid.get(c, 0) for c in used} | rest
    _set_payout_json(db, payout_id, "plan", plan)
    append_event(db, "payout_replanned", payout=payout_id,
                 plan={str(c): n for c, n in plan.items()})
    return plan


def settle_payout(db: sqlite_utils.Database, payout_id: int) -> tuple[list[int], int]:
    """Close a payout; whatever was not paid goes back to the holder's credit.

    Returns the coins paid (largest first) and the unpaid value.
    """
    row = db.conn.execute("SELECT holder, amount, status FROM payouts WHERE id = ?",
                          (payout_id,)).fetchone()
    paid = _payout_json(db, payout_id, "paid")
    if row["status"] != "pending":
        return money.coin_list(paid), 0
    unpaid = int(row["amount"]) - money.plan_value(paid)
    if unpaid > 0:
        add_credit(db, str(row["holder"]), unpaid)
    elif unpaid < 0:
        # A hopper paid more than owed (a coin in flight after the motor stopped).
        # Those coins left the machine but were not change: book them as a loss,
        # a removal from the hoppers, so both ledger identities still hold.
        over = -unpaid
        bump(db, "change_paid", -over)
        bump(db, "adjustments", -over)
        bump(db, "overpaid", over)
        append_event(db, "payout_overpaid", payout=payout_id, value=over)
        unpaid = 0
    db.conn.execute("UPDATE payouts SET status = 'settled', settled_at = ? WHERE id = ?",
                    (time.time(), payout_id))
    append_event(db, "payout_settled", payout=payout_id, paid={str(c): n for c, n in paid.items()},
                 unpaid=unpaid)
    return money.coin_list(paid), unpaid


def open_payouts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.conn.execute(
        "SELECT * FROM payouts WHERE status = 'pending' ORDER BY id")]


def open_vends(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.conn.execute(
        "SELECT * FROM vends WHERE status = 'pending' ORDER BY id")]


def mark_vend_unknown(db: sqlite_utils.Database, vend: Mapping[str, Any]) -> None:
    """Boot recovery of a vend cut short: not charged, slot flagged for a check.

    The unit stays out of stock: if it dropped, the count is right; if it did
    not, the machine holds one more than it sells until the operator checks.
    Never selling what may not be there is the safe side.
    """
    add_credit(db, str(vend["holder"]), int(vend["price"]))
    db.conn.execute("UPDATE vends SET status = 'unknown', outcome = 'power_cut', settled_at = ? "
                    "WHERE id = ?", (time.time(), vend["id"]))
    set_slot_status(db, str(vend["slot"]), "check", "a vend was cut short: check the spiral")
    append_event(db, "vend_recovered", vend=vend["id"], slot=vend["slot"], charged=False)


def adjust_hopper(db: sqlite_utils.Database, coin: int, payout: int) -> dict[str, int]:
    """An operator sets the count of a hopper after a refill or removal."""
    row = db.conn.execute("SELECT payout, capacity FROM coins WHERE coin = ?", (coin,)).fetchone()
    before = int(row[0])
    delta = payout - before
    db.conn.execute("UPDATE coins SET payout = ? WHERE coin = ?", (payout, coin))
    bump(db, "adjustments", coin * delta)
    if delta > 0:
        bump(db, "refills", coin * delta)
    set_hopper_fault(db, coin, None)
    append_event(db, "hopper_adjusted", coin=coin, before=before, after=payout)
    return {"coin": coin, "payout": payout, "capacity": int(row[1])}


def collect_cashbox(db: sqlite_utils.Database) -> int:
    """An audited cashbox collection: empties the cashbox, resets interim counters."""
    value = int(db.conn.execute("SELECT SUM(coin * cashbox) FROM coins").fetchone()[0] or 0)
    db.conn.execute("UPDATE coins SET cashbox = 0")
    bump(db, "cash_collected", value)
    db.conn.execute("UPDATE counters SET interim = 0")
    db.conn.execute("UPDATE slot_counters SET interim_vends = 0, interim_value = 0, "
                    "interim_failed = 0")
    append_event(db, "cashbox_collected", value=value)
    return value


def inventory_json(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    faults = hopper_faults(db)
    return [{"coin": int(r[0]), "payout": int(r[1]), "capacity": int(r[2]),
             "cashbox": int(r[3]), "fault": faults.get(int(r[0]))}
            for r in db.conn.execute("SELECT coin, payout, capacity, cashbox FROM coins "
                                     "ORDER BY coin")]


def events_after(db: sqlite_utils.Database, after: int, limit: int) -> list[dict[str, Any]]:
    return [{"id": int(r[0]), "ts": float(r[1]), "kind": str(r[2]), "data": json.loads(r[3])}
            for r in db.conn.execute("SELECT id, ts, kind, data FROM events WHERE id > ? "
                                     "ORDER BY id LIMIT ?", (after, limit))]


def holders_with_credit(db: sqlite_utils.Database) -> Iterable[tuple[str, int]]:
    yield PANEL, get_credit(db, PANEL)
    for r in db.conn.execute("SELECT id, deposit FROM users WHERE deposit > 0"):
        yield user_holder(int(r[0])), int(r[1])
