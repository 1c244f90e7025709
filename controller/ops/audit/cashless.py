"""A card reader's segments: ``DA1``, ``DA2``, ``DA4`` (cashless device 1).

- ``DA1*serial*model*software``: the reader's identity (EXPANSION ID) as saved
  when it was last set up;
- ``DA2*value*count*value*count``: card sales since initialisation, then since
  the last reset;
- ``DA4*value*value``: value owed back to cards (a reader that lost an
  approved session charged for nothing: ``card_refund_owed``), since
  initialisation, then since the last reset.

Sent only by a machine that has, or had, a reader.  ``PA7`` sends each
product's card sales under ``DA`` (``store.counters``).
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.ops.audit.dex import segment, text
from controller.ops.audit.model import AuditData


def _has_reader(a: AuditData) -> bool:
    return a.card_reader is not None or a.counter("cashless_count").lifetime > 0


def da1(a: AuditData) -> Iterable[str]:
    if _has_reader(a):
        ident = a.card_reader or {}
        yield segment("DA1", text(ident.get("serial", ""), 20), text(ident.get("model", ""), 20),
                      text(ident.get("softwareVersion", ""), 20))


def da2(a: AuditData) -> Iterable[str]:
    if _has_reader(a):
        value, count = a.counter("cashless_value"), a.counter("cashless_count")
        yield segment("DA2", value.lifetime, count.lifetime, value.interim, count.interim)


def da4(a: AuditData) -> Iterable[str]:
    if _has_reader(a):
        refunds = a.counter("cashless_refunds")
        yield segment("DA4", refunds.lifetime, refunds.interim)


CARD_READER = [da1, da2, da4]
