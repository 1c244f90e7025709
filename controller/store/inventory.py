"""Coin inventory: per coin value, coins in its hopper (usable for change, up to
its capacity) and in the cashbox; and the acceptor's last event counter.

Every function runs on the store's owner thread inside the caller's
transaction.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from controller import money
from controller.store.counters import bump, reset_interim
from controller.store.credit import add_credit, find_credit
from controller.store.event_log import append_event
from controller.store.faults import clear_hopper_fault, hopper_faults


def payout_inventory(db: sqlite_utils.Database) -> dict[int, int]:
    """Coins usable for change: hopper counts of hoppers that are not at fault."""
    faulted = set(hopper_faults(db))
    return {int(r[0]): int(r[1]) for r in db.conn.execute("SELECT coin, payout FROM coins")
            if int(r[0]) not in faulted}


def hopper_capacity(db: sqlite_utils.Database) -> dict[int, int]:
    return {int(r[0]): int(r[1])
            for r in db.conn.execute("SELECT coin, capacity FROM coins WHERE capacity > 0")}


def credit_coin(db: sqlite_utils.Database, coin: int, holder: str, route: str = "") -> str:
    """An accepted coin: route it, count it, credit its holder.  Returns the route
    (``hopper`` or ``cashbox``).  ``route`` is where the device put it when it
    says so (an MDB changer: ``tube`` or ``cashbox``), else the books decide."""
    payout = {int(r[0]): int(r[1]) for r in db.conn.execute("SELECT coin, payout FROM coins")}
    to_hopper = (route == "tube" if route else
                 money.routes_to_hopper(coin, payout, hopper_capacity(db)))
    column = "payout" if to_hopper else "cashbox"
    db.conn.execute(f"UPDATE coins SET {column} = {column} + 1 WHERE coin = ?", (coin,))
    bump(db, "cash_in", coin)
    bump(db, "cash_to_hoppers" if to_hopper else "cash_to_cashbox", coin)
    add_credit(db, holder, coin)
    append_event(db, "coin_accepted", coin=coin, holder=holder, route=column)
    return "hopper" if to_hopper else "cashbox"


def pay_coins(db: sqlite_utils.Database, coin: int, count: int) -> None:
    """``count`` coins left the hopper of ``coin`` as change."""
    db.conn.execute("UPDATE coins SET payout = MAX(payout - ?, 0) WHERE coin = ?", (count, coin))
    bump(db, "change_paid", coin * count)


def refill_tube(db: sqlite_utils.Database, coin: int, route: str) -> None:
    """A coin an operator put into an MDB changer in service mode: a refill of its
    tube (or, tube full, of the cashbox), never credit."""
    column = "payout" if route == "tube" else "cashbox"
    db.conn.execute(f"UPDATE coins SET {column} = {column} + 1 WHERE coin = ?", (coin,))
    bump(db, "adjustments", coin)
    bump(db, "refills", coin)
    append_event(db, "tube_refilled", coin=coin, route=column)


def manual_payout(db: sqlite_utils.Database, coin: int, count: int) -> None:
    """Coins an operator paid out by hand at an MDB changer: they left the tube."""
    row = db.conn.execute("SELECT payout FROM coins WHERE coin = ?", (coin,)).fetchone()
    taken = min(count, int(row[0])) if row else 0
    db.conn.execute("UPDATE coins SET payout = payout - ? WHERE coin = ?", (taken, coin))
    bump(db, "adjustments", -coin * taken)
    bump(db, "manual_paid", coin * taken)
    append_event(db, "manual_payout", coin=coin, count=count)


def sync_tube(db: sqlite_utils.Database, coin: int, count: int) -> bool:
    """The changer's TUBE STATUS count of a tube becomes the books' count (booked as
    an adjustment); not while a payout is open, whose coins are still being booked.
    Returns whether the count moved."""
    if db.conn.execute("SELECT 1 FROM payouts WHERE status = 'pending'").fetchone():
        return False
    row = db.conn.execute("SELECT payout FROM coins WHERE coin = ?", (coin,)).fetchone()
    if row is None or int(row[0]) == count:
        return False
    before = int(row[0])
    db.conn.execute("UPDATE coins SET payout = ? WHERE coin = ?", (count, coin))
    bump(db, "adjustments", coin * (count - before))
    append_event(db, "tube_counted", coin=coin, before=before, after=count)
    return True


def adjust_hopper(db: sqlite_utils.Database, coin: int, payout: int) -> None:
    """An operator sets the count of a hopper after a refill or removal."""
    row = db.table("coins").get(coin)
    before = int(row["payout"])
    delta = payout - before
    db.table("coins").update(coin, {"payout": payout})
    bump(db, "adjustments", coin * delta)
    if delta > 0:
        bump(db, "refills", coin * delta)
    clear_hopper_fault(db, coin)
    append_event(db, "hopper_adjusted", coin=coin, before=before, after=payout)


def credit_bill(db: sqlite_utils.Database, bill: int, holder: str) -> int:
    """A bill stacked by the bill validator: cash in, in the stacker, credit of its
    holder.  Returns the holder's new credit."""
    bump(db, "cash_in", bill)
    bump(db, "bills_in", bill)
    bump(db, "bills_count", 1)
    add_credit(db, holder, bill)
    append_event(db, "bill_stacked", bill=bill, holder=holder)
    return find_credit(db, holder) or 0


def stacker_value(db: sqlite_utils.Database) -> int:
    """Value of the bills in the stacker: those stacked since the last collection."""
    row = db.conn.execute("SELECT interim FROM counters WHERE name = 'bills_in'").fetchone()
    return int(row[0]) if row else 0


def collect_cashbox(db: sqlite_utils.Database) -> int:
    """An audited cashbox collection (and bill stacker): empties both, resets interim
    counters."""
    value = int(db.conn.execute("SELECT SUM(coin * cashbox) FROM coins").fetchone()[0] or 0)
    value += stacker_value(db)
    db.conn.execute("UPDATE coins SET cashbox = 0")
    bump(db, "cash_collected", value)
    reset_interim(db)
    append_event(db, "cashbox_collected", value=value)
    return value


def inventory_json(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    faults = hopper_faults(db)
    return [{"coin": int(r["coin"]), "payout": int(r["payout"]),
             "capacity": int(r["capacity"]), "cashbox": int(r["cashbox"]),
             "fault": faults.get(int(r["coin"]))}
            for r in db.table("coins").rows_where(order_by="coin")]


def device_counter(db: sqlite_utils.Database, device: str) -> int | None:
    """The last event counter credited from this coin acceptor."""
    row = db.conn.execute("SELECT counter FROM device_state WHERE device = ?",
                          (device,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def set_device_counter(db: sqlite_utils.Database, device: str, counter: int | None) -> None:
    db.table("device_state").upsert({"device": device, "counter": counter}, pk="device")
