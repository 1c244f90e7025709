"""Products and the slots they sit in: the stock rules, as synchronous db functions.

Run inside ``store.tx`` (writes) or ``store.run`` (reads).  The API only
checks JSON types; every rule about who may change a product, which slot it
may take and how many units fit lives here, so the front panel, the CLI and
the API agree.  Physical stock loading (the simulated spiral) is the
machine's job, told through ``Machine.stock_changed`` after the commit.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import sqlite_utils

from controller.errors import Forbidden, NoFreeSlot, SlotTaken, ValidationError
from controller.money import is_int, validate_price
from controller.store.db import next_id
from controller.store.event_log import append_event
from controller.store.products import get_product, rearm_low

PRODUCT_NAME_MAX_CHARS = 64
MAX_COST_CENTS = 100_000
"""The highest price a product may have (1000.00): guards against typos."""

# --- validation ----------------------------------------------------------------


NOT_PRINTABLE = frozenset({"Cc", "Cf"})
"""Unicode categories a name may not hold: controls (escape sequences, newlines) and
format characters (bidi overrides such as U+202E, zero-width U+200B, U+FEFF)."""


def printable(text: str) -> bool:
    """No control or format character in ``text``: it shows as what it says."""
    return not any(unicodedata.category(ch) in NOT_PRINTABLE for ch in text)


def validate_product_name(name: object) -> str:
    if (not isinstance(name, str) or not name.strip()
            or len(name) > PRODUCT_NAME_MAX_CHARS
            or not printable(name)):
        raise ValidationError(
            f"productName must be 1-{PRODUCT_NAME_MAX_CHARS} printable characters, not blank "
            "(no control or format characters)",
            fields={"productName": f"1-{PRODUCT_NAME_MAX_CHARS} printable characters, "
                                   "not blank"})
    return name


def validate_cost(cost: object) -> int:
    value = validate_price(cost)
    if value > MAX_COST_CENTS:
        raise ValidationError(f"cost must be at most {MAX_COST_CENTS}",
                              fields={"cost": f"at most {MAX_COST_CENTS}"})
    return value


def _validate_amount(amount: object, capacity: int) -> int:
    if not is_int(amount) or not 0 <= amount <= capacity:  # type: ignore[operator]
        raise ValidationError(f"amountAvailable must be an integer from 0 to {capacity} "
                              "(the slot's capacity)",
                              fields={"amountAvailable": f"0..{capacity}"})
    assert isinstance(amount, int)
    return amount


def _validate_min_level(level: object, capacity: int) -> int:
    if not is_int(level) or not 0 <= level <= capacity:  # type: ignore[operator]
        raise ValidationError(f"minLevel must be an integer from 0 to {capacity} "
                              "(the slot's capacity)", fields={"minLevel": f"0..{capacity}"})
    assert isinstance(level, int)
    return level


def _slot_capacity(db: sqlite_utils.Database, code: object) -> tuple[str, int]:
    if not isinstance(code, str):
        raise ValidationError("slot must be a slot code like A1", fields={"slot": "unknown slot"})
    row = db.conn.execute("SELECT code, capacity FROM slots WHERE code = ?",
                          (code.upper(),)).fetchone()
    if row is None:
        raise ValidationError(f"no slot {code!r}", fields={"slot": "unknown slot"})
    return str(row["code"]), int(row["capacity"])


def _claim_slot(db: sqlite_utils.Database, code: object, product_id: int | None) -> tuple[str, int]:
    """A named slot that is free (or already this product's), else ``slot_taken``."""
    slot, capacity = _slot_capacity(db, code)
    holder = db.conn.execute("SELECT id FROM products WHERE slot = ?", (slot,)).fetchone()
    if holder is not None and holder["id"] != product_id:
        raise SlotTaken(f"slot {slot} already holds a product", fields={"slot": "taken"})
    return slot, capacity


def _first_free_slot(db: sqlite_utils.Database) -> tuple[str, int]:
    row = db.conn.execute(
        "SELECT code, capacity FROM slots WHERE code NOT IN (SELECT slot FROM products) "
        "ORDER BY position LIMIT 1").fetchone()
    if row is None:
        raise NoFreeSlot()
    return str(row["code"]), int(row["capacity"])


# --- writes --------------------------------------------------------------------------


def _require_seller(user: dict[str, Any]) -> None:
    if user.get("role") != "seller":
        raise Forbidden("only sellers manage products")


def _owned(db: sqlite_utils.Database, user: dict[str, Any], product_id: int) -> dict[str, Any]:
    """The product, if ``user`` is its seller or an operator (who may change any)."""
    if user.get("role") == "operator":
        return get_product(db, product_id)
    _require_seller(user)
    product = get_product(db, product_id)
    if product["sellerId"] != user["id"]:
        raise Forbidden("this product belongs to another seller")
    return product


def create_product(db: sqlite_utils.Database, user: dict[str, Any],
                   data: dict[str, Any]) -> dict[str, Any]:
    """Add a product for a seller: ``{productName, cost, amountAvailable, slot?, minLevel?}``."""
    _require_seller(user)
    name = validate_product_name(data.get("productName"))
    cost = validate_cost(data.get("cost"))
    if data.get("slot") is None:
        slot, capacity = _first_free_slot(db)
    else:
        slot, capacity = _claim_slot(db, data["slot"], None)
    amount = _validate_amount(data.get("amountAvailable"), capacity)
    min_level = _validate_min_level(data.get("minLevel", 0), capacity)
    product_id = next_id(db.conn, "products")
    db.table("products").insert({"id": product_id, "name": name, "cost": cost,
                                 "amount_available": amount, "seller_id": user["id"],
                                 "slot": slot, "min_level": min_level})
    return get_product(db, product_id)


def update_product(db: sqlite_utils.Database, user: dict[str, Any], product_id: int,
                   changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Change any of name, cost, amount, slot, minimum level; return the product
    (before, after).  Stock above the minimum arms the next ``stock_low`` event."""
    before = _owned(db, user, product_id)
    name = (validate_product_name(changes["productName"]) if "productName" in changes
            else before["productName"])
    cost = validate_cost(changes["cost"]) if "cost" in changes else before["cost"]
    slot, capacity = _claim_slot(db, changes.get("slot", before["slot"]), product_id)
    amount = _validate_amount(changes.get("amountAvailable", before["amountAvailable"]),
                              capacity)
    min_level = _validate_min_level(changes.get("minLevel", before["minLevel"]), capacity)
    db.table("products").update(product_id, {"name": name, "cost": cost,
                                             "amount_available": amount, "slot": slot,
                                             "min_level": min_level})
    rearm_low(db, product_id)
    after = get_product(db, product_id)
    append_event(db, "product_changed", product=product_id, slot=after["slot"], by=user["id"],
                 changes={k: after[k] for k in changes if after[k] != before[k]})
    return before, after


def delete_product(db: sqlite_utils.Database, user: dict[str, Any],
                   product_id: int) -> dict[str, Any]:
    """Remove an owned product; return it as it was."""
    product = _owned(db, user, product_id)
    db.table("products").delete(product_id)
    return product
