"""The card reader's part of the EVA-DTS report: ``DA1``, ``DA2``, ``DA4``.

- ``DA1*serial*model*software``: the reader's identity (EXPANSION ID), as saved
  when it was last set up (``card_journal.save_reader_identity``);
- ``DA2*value*count*value*count``: card sales since initialisation, then since
  the last reset (an audited collection);
- ``DA4*value*value``: value owed back to cards (a reader that charged for
  nothing: ``card_refund_owed``) since initialisation, then since the reset.

Sent only by a machine that has, or had, a reader.  ``PA7`` per product and
payment device comes with the report's product records (the card's vends are
``DA``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from controller.store import card_journal


@dataclass(frozen=True)
class CardAudit:
    serial: str
    model: str
    software: str
    sales_value: tuple[int, int]  # (since initialisation, since reset)
    sales_count: tuple[int, int]
    refunds: tuple[int, int]


def collect_card(db: sqlite_utils.Database) -> CardAudit | None:
    """The reader's figures, or None for a machine that never had a reader."""
    identity = card_journal.reader_identity(db)
    sales = card_journal.card_sales(db)
    if identity is None and not sales["count"] and not sales["refunds"]:
        return None
    ident = identity or {}
    return CardAudit(serial=ident.get("serial", ""), model=ident.get("model", ""),
                     software=ident.get("softwareVersion", ""),
                     sales_value=(sales["value"], sales["interimValue"]),
                     sales_count=(sales["count"], sales["interimCount"]),
                     refunds=(sales["refunds"], sales["interimRefunds"]))


def card_segments(card: CardAudit) -> list[str]:
    """``DA1``, ``DA2``, ``DA4`` (fields ``*``-separated, no line ends)."""
    return [
        f"DA1*{card.serial}*{card.model}*{card.software}",
        f"DA2*{card.sales_value[0]}*{card.sales_count[0]}*{card.sales_value[1]}*"
        f"{card.sales_count[1]}",
        f"DA4*{card.refunds[0]}*{card.refunds[1]}",
    ]
