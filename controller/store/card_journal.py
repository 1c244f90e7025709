"""The card vend journal: persist before you act, for money a card reader holds.

A card vend (``card_vends``) moves through:

- ``requested``: written before VEND REQUEST goes to the reader; nothing moved;
- ``declined``: the reader denied it (or the machine withdrew the request);
- ``approved``: written on VEND APPROVED, in the same transaction as the unit
  it reserves (a ``vends`` row of holder ``medium:<reader>``, ``journal``);
- ``vended``: the spiral's outcome is known, written with the vend's settlement;
- ``settled``: the reader acknowledged VEND SUCCESS or FAILURE (``told``), or
  had lost the session (``lost``).

``charged`` is what the reader kept; a reader that lost an approved session
counted it as paid, so a vend that delivered nothing then leaves
``refund_owed`` for an operator (event ``card_refund_owed``, counter
``cashless_refunds``, EVA-DTS ``DA4``).  Card money is not cash: neither
ledger identity sees it.  Every function runs on the store's owner thread
inside the caller's transaction; none does hardware I/O.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from controller.store import journal
from controller.store.counters import bump
from controller.store.credit import medium_holder
from controller.store.event_log import append_event, row_id

OPEN = ("requested", "approved", "vended")
TOLD = ("success", "failure", "lost", "cancelled")


@dataclass(frozen=True)
class CardVend:
    """One journaled card vend: what the reader is asked for."""

    card_id: int
    reader: str
    product_id: int
    slot: str
    item: int  # the MDB item number: the slot's position, from 1
    price: int


def _row(db: sqlite_utils.Database, card_id: int) -> dict[str, Any]:
    return dict(db.table("card_vends").get(card_id))


def open_card_vend(db: sqlite_utils.Database, reader: str, product_id: int) -> CardVend:
    """Before VEND REQUEST: the product must be sellable; nothing moves yet."""
    product = journal.check_stock(db, product_id, 1)
    position = db.conn.execute("SELECT position FROM slots WHERE code = ?",
                               (product["slot"],)).fetchone()
    item = int(position[0]) + 1 if position else 0
    table = db.table("card_vends")
    table.insert({"reader": reader, "product_id": product_id, "slot": product["slot"],
                  "item": item, "price": product["cost"], "status": "requested",
                  "created_at": time.time()})
    card_id = row_id(table.last_pk)
    append_event(db, "card_vend_requested", card=card_id, reader=reader,
                 slot=product["slot"], price=product["cost"])
    return CardVend(card_id, reader, product_id, str(product["slot"]), item,
                    int(product["cost"]))


def decline_card_vend(db: sqlite_utils.Database, card_id: int, why: str) -> None:
    """The reader denied the vend, or the machine withdrew it before any approval."""
    db.table("card_vends").update(card_id, {"status": "declined", "told": "cancelled",
                                            "settled_at": time.time()})
    append_event(db, "card_vend_declined", card=card_id, why=why)


def approve_card_vend(db: sqlite_utils.Database, card: CardVend,
                      amount: int) -> journal.VendTicket:
    """VEND APPROVED for ``amount`` (at most the price): the unit is reserved in the
    same transaction, and the vend is journaled like every other."""
    if not 0 <= amount <= card.price:
        raise ValueError(f"approved amount {amount} outside 0..{card.price}")
    ticket = journal.reserve_vend(db, medium_holder(card.reader), card.product_id,
                                  price=amount)
    db.table("card_vends").update(card.card_id, {"status": "approved", "approved": amount,
                                                 "vend_id": ticket.vend_id})
    append_event(db, "card_vend_approved", card=card.card_id, vend=ticket.vend_id,
                 amount=amount)
    return ticket


def record_outcome(db: sqlite_utils.Database, card_id: int, delivered: bool) -> None:
    """In the transaction that settles the vend: what the reader must be told."""
    db.table("card_vends").update(card_id, {"status": "vended",
                                            "outcome": "delivered" if delivered else "failed"})


def recover_cut_vend(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """An approved vend cut short (crash, power cut): the coin sale's rule, the
    customer is not charged and the slot is flagged; the reader is told FAILURE."""
    vend = db.table("vends").get(int(row["vend_id"]))
    if vend["status"] == "pending":
        journal.mark_vend_unknown(db, vend)
    outcome = {"delivered": "delivered", "failed": "failed"}.get(vend["status"], "unknown")
    db.table("card_vends").update(int(row["id"]), {"status": "vended", "outcome": outcome})


def settle_card_vend(db: sqlite_utils.Database, card_id: int,
                     told: str) -> tuple[int, int]:
    """The reader took the outcome (``success``, ``failure``) or had lost the session
    (``lost``: it counted an approved vend as paid).  Returns (charged, refund owed)."""
    if told not in TOLD:
        raise ValueError(f"unknown outcome told {told!r}")
    row = _row(db, card_id)
    if row["status"] not in OPEN:
        return 0, 0
    approved = int(row["approved"] or 0)
    was_approved = row["status"] != "requested"
    charged = approved if told == "success" or (told == "lost" and was_approved) else 0
    owed = charged if row["outcome"] != "delivered" else 0
    db.table("card_vends").update(card_id, {"status": "settled", "told": told,
                                            "charged": charged, "refund_owed": owed,
                                            "settled_at": time.time()})
    append_event(db, "card_vend_settled", card=card_id, told=told, charged=charged)
    if owed:
        bump(db, "cashless_refunds", owed)
        append_event(db, "card_refund_owed", card=card_id, slot=row["slot"], cents=owed,
                     reader=row["reader"])
    return charged, owed


def open_card_vends(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Card vends the reader has not been told the end of, oldest first."""
    return list(db.table("card_vends").rows_where(
        "status IN ('requested', 'approved', 'vended')", order_by="id"))


def refunds_owed(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """The newest refunds owed to cards, for the operator (``GET /machine``)."""
    rows = db.conn.execute(
        "SELECT id, reader, slot, refund_owed, settled_at FROM card_vends "
        "WHERE refund_owed > 0 ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [{"cardVend": int(r[0]), "reader": r[1], "slot": r[2], "cents": int(r[3]),
             "at": r[4]} for r in rows]


def card_sales(db: sqlite_utils.Database) -> dict[str, int]:
    """Card sales and refunds owed, lifetime and since the last reset (EVA-DTS DA2/DA4)."""
    counters = {r[0]: (int(r[1]), int(r[2])) for r in db.conn.execute(
        "SELECT name, lifetime, interim FROM counters WHERE name IN "
        "('cashless_value', 'cashless_count', 'cashless_refunds')")}
    value, count, refunds = (counters.get(n, (0, 0)) for n in
                             ("cashless_value", "cashless_count", "cashless_refunds"))
    return {"value": value[0], "count": count[0], "interimValue": value[1],
            "interimCount": count[1], "refunds": refunds[0], "interimRefunds": refunds[1]}


def save_reader_identity(db: sqlite_utils.Database, identity: dict[str, str]) -> None:
    """The reader's identity as it last told it (for the audit report, ``DA1``)."""
    db.conn.execute("INSERT INTO device_state (device, data) VALUES ('reader', ?) "
                    "ON CONFLICT (device) DO UPDATE SET data = excluded.data",
                    (json.dumps(identity, sort_keys=True),))


def reader_identity(db: sqlite_utils.Database) -> dict[str, str] | None:
    row = db.conn.execute("SELECT data FROM device_state WHERE device = 'reader'").fetchone()
    return None if row is None else {str(k): str(v) for k, v in json.loads(row[0]).items()}
