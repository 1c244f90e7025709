"""Products and the slots they sit in: rows, the one public product shape, slot status.

The stock rules (who may change what, capacities, free slots) are in
``controller.catalog.rules``; the sale's stock moves are in ``store.journal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlite_utils

from controller.errors import NotFound
from controller.store.event_log import append_event

_SELECT = ("SELECT p.id, p.name, p.cost, p.amount_available, p.seller_id, p.slot, "
           "p.min_level, s.status FROM products p JOIN slots s ON s.code = p.slot")


def product_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public shape of a product (API, events, telemetry)."""
    return {"id": row["id"], "productName": row["name"], "cost": row["cost"],
            "amountAvailable": row["amount_available"], "sellerId": row["seller_id"],
            "slot": row["slot"], "minLevel": row["min_level"]}


def product_row(db: sqlite_utils.Database, product_id: int) -> dict[str, Any]:
    """A product with its slot's status; ``not_found`` when there is none."""
    row = db.conn.execute(f"{_SELECT} WHERE p.id = ?", (product_id,)).fetchone()
    if row is None:
        raise NotFound(f"no product {product_id}")
    return dict(row)


def product_in_slot(db: sqlite_utils.Database, slot: str) -> dict[str, Any] | None:
    row = db.conn.execute(f"{_SELECT} WHERE p.slot = ?", (slot,)).fetchone()
    return dict(row) if row is not None else None


def list_products(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every product, in slot order (the order on the machine's front)."""
    return [product_json(r) for r in db.conn.execute(f"{_SELECT} ORDER BY s.position")]


def get_product(db: sqlite_utils.Database, product_id: int) -> dict[str, Any]:
    try:
        return product_json(product_row(db, product_id))
    except NotFound:
        raise NotFound("no such product") from None


def set_slot_status(db: sqlite_utils.Database, slot: str, status: str,
                    reason: str | None) -> None:
    db.table("slots").update(slot, {"status": status, "status_reason": reason})
    append_event(db, "slot_status", slot=slot, status=status, reason=reason)


def slots_json(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every slot in front order, with its product (or None)."""
    slots = []
    for row in db.conn.execute(
            "SELECT s.code, s.capacity, s.status, s.status_reason, p.id, p.name, p.cost, "
            "p.amount_available, p.seller_id, p.slot, p.min_level FROM slots s "
            "LEFT JOIN products p ON p.slot = s.code ORDER BY s.position"):
        product = product_json(row) if row["id"] is not None else None
        slots.append({"slot": row["code"], "capacity": int(row["capacity"]),
                      "status": row["status"], "reason": row["status_reason"],
                      "product": product})
    return slots


def clear_slot_checks(db: sqlite_utils.Database) -> list[str]:
    """Leaving service mode: the operator has checked every flagged slot."""
    slots = [str(r[0]) for r in db.conn.execute("SELECT code FROM slots WHERE status != 'ok'")]
    db.conn.execute("UPDATE slots SET status = 'ok', status_reason = NULL WHERE status != 'ok'")
    return slots


# --- low stock ---------------------------------------------------------------------


def report_if_low(db: sqlite_utils.Database, product_id: int) -> bool:
    """After a sale: a ``stock_low`` event when it took the product to its minimum
    level, once (until ``rearm_low`` sees it restocked above).  True if reported."""
    row = db.conn.execute(
        "UPDATE products SET low_reported = 1 WHERE id = ? AND low_reported = 0 "
        "AND amount_available <= min_level "
        "RETURNING slot, name, amount_available, min_level", (product_id,)).fetchall()
    if not row:
        return False
    row = row[0]
    append_event(db, "stock_low", product=product_id, slot=row[0], productName=row[1],
                 amountAvailable=int(row[2]), minLevel=int(row[3]))
    return True


def rearm_low(db: sqlite_utils.Database, product_id: int) -> None:
    """After stock came back: above its minimum, the next fall to it is reported again."""
    db.conn.execute("UPDATE products SET low_reported = 0 WHERE id = ? AND low_reported = 1 "
                    "AND amount_available > min_level", (product_id,))
