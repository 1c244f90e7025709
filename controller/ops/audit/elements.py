"""The data segments of the report, block by block, in the order they are sent.

Each builder is a small function of the report's data that gives zero or more
segments; ``REPORT`` lists the blocks in order, and ``PRODUCT`` lists what each
selection sends after its ``PA1``.  A device that reports its own elements (a
changer's ``CA1``, a bill validator's ``BA1``, a card reader's ``DA1``/``DA2``/
``DA4``, a hopper's ``HA1``) adds its builders to ``DEVICES``; a builder reads
the fields of ``AuditData``, or any audit counter by name (``a.counter``).

Field order (EVA-DTS 6.2, Appendix A; route software reads by position):
``VA1``, ``CA2``, ``PA2`` and ``PA7`` send figures since initialisation first,
then since the last reset; ``CA3``, ``CA4``, ``CA10`` and ``EA2`` send figures
since the last reset first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from controller.ops.audit.cashless import CARD_READER
from controller.ops.audit.dex import segment, text
from controller.ops.audit.model import AuditData, Pair, SelectionAudit
from controller.store.counters import CASH

Builder = Callable[[AuditData], Iterable[str]]
ProductBuilder = Callable[[AuditData, SelectionAudit], Iterable[str]]


def date(ts: float) -> str:
    """A DEX date, ``YYYYMMDD``, in the machine's local time."""
    return time.strftime("%Y%m%d", time.localtime(ts))


def clock(ts: float) -> str:
    """A DEX time, ``HHMMSS``, in the machine's local time."""
    return time.strftime("%H%M%S", time.localtime(ts))


def lifetime_first(*pairs: Pair) -> list[int]:
    return [*(p.lifetime for p in pairs), *(p.interim for p in pairs)]


def reset_first(*pairs: Pair) -> list[int]:
    return [*(p.interim for p in pairs), *(p.lifetime for p in pairs)]


# --- identification --------------------------------------------------------------

def id1(a: AuditData) -> Iterable[str]:
    """Machine serial, model, build standard, (location, 05 unused), asset number."""
    i = a.identity
    yield segment("ID1", text(i.machine_id), text(i.model), 1, None, None, text(i.asset_number))


def id4(a: AuditData) -> Iterable[str]:
    """Decimal places, 4-digit numeric currency code, alphabetic code."""
    yield segment("ID4", 2, f"{a.identity.currency_code:04d}", text(a.identity.currency, 3))


def id5(a: AuditData) -> Iterable[str]:
    """The machine's date and time."""
    yield segment("ID5", date(a.read.at), clock(a.read.at))


def id6(a: AuditData) -> Iterable[str]:
    """The cash bag now in the machine."""
    yield segment("ID6", a.cash_bag)


def cb1(a: AuditData) -> Iterable[str]:
    """The control board: serial, model, software (build standard)."""
    i = a.identity
    yield segment("CB1", text(i.machine_id), text(i.model), text(i.software_version))


# --- sales and cash --------------------------------------------------------------

def va1(a: AuditData) -> Iterable[str]:
    """Every paid vend, cash and cashless: value and number."""
    yield segment("VA1", *lifetime_first(a.sales_value, a.sales_count))


def va3(a: AuditData) -> Iterable[str]:
    """Free vends: this machine gives none."""
    yield segment("VA3", 0, 0, 0, 0)


def ca1(a: AuditData) -> Iterable[str]:
    """The coin mechanism: serial, model, software revision (an MDB changer's own, or
    a ccTalk acceptor's as it identified itself)."""
    changer = a.devices.get("changer")
    if changer is not None:
        yield segment("CA1", *(text(f) for f in changer))
        return
    if a.acceptor is not None:
        d = a.acceptor
        yield segment("CA1", text(d.serial), text(d.model), text(d.revision))
        return
    yield segment("CA1", 0, text(a.acceptor_model), 1)


def ca2(a: AuditData) -> Iterable[str]:
    """Cash sales: value and number."""
    yield segment("CA2", *lifetime_first(a.cash_sales_value, a.cash_sales_count))


def ca3(a: AuditData) -> Iterable[str]:
    """Cash in, to the cashbox, to the hoppers (tubes), bills stacked."""
    yield segment("CA3", *reset_first(a.cash_in, a.cash_to_cashbox, a.cash_to_hoppers,
                                      a.counter("bills_in")))


def ca4(a: AuditData) -> Iterable[str]:
    """Change paid by the hoppers (tubes), coins paid by hand at an MDB changer."""
    yield segment("CA4", *reset_first(a.change_paid, a.counter("manual_paid")))


def ca10(a: AuditData) -> Iterable[str]:
    """Coins put into the hoppers by an operator."""
    yield segment("CA10", *reset_first(a.refills))


def ca15(a: AuditData) -> Iterable[str]:
    """Value of the coins in every hopper now."""
    yield segment("CA15", sum(t.coin * t.count for t in a.tubes))


def ca17(a: AuditData) -> Iterable[str]:
    """Per hopper: coin type, value, coins in it, filled and emptied under control
    (never: an operator counts by hand), full."""
    for t in a.tubes:
        yield segment("CA17", t.type_number, t.coin, t.count, 0, 0, int(t.full))


def ha1(a: AuditData) -> Iterable[str]:
    """Each hopper: serial, model, software revision (as it identified itself)."""
    for d in a.hoppers:
        yield segment("HA1", text(d.serial), text(d.model), text(d.revision))


# --- products --------------------------------------------------------------------

def pa1(a: AuditData, s: SelectionAudit) -> Iterable[str]:
    """Selection, price, name, capacity, (05, 06 unused), status, level, minimum."""
    yield segment("PA1", s.selection, s.price, text(s.name), s.capacity, None, None,
                  0 if s.present else 1, s.level, s.min_level)


def pa2(a: AuditData, s: SelectionAudit) -> Iterable[str]:
    """Paid vends of the selection, every payment device (for software that reads no PA7)."""
    yield segment("PA2", s.vends.lifetime, s.value.lifetime, s.vends.interim, s.value.interim)


def pa4(a: AuditData, s: SelectionAudit) -> Iterable[str]:
    """Free vends of the selection: none."""
    yield segment("PA4", 0, 0, 0, 0)


def pa5(a: AuditData, s: SelectionAudit) -> Iterable[str]:
    """Date and time of its last sale (none before the first)."""
    if s.last_sale_at is not None:
        yield segment("PA5", date(s.last_sale_at), clock(s.last_sale_at))


def pa7(a: AuditData, s: SelectionAudit) -> Iterable[str]:
    """Per payment device: selection, device, price list 0, price, sales (cash always)."""
    devices = {d.device: d for d in s.by_device}
    for code in [CASH, *sorted(d for d in devices if d != CASH)]:
        d = devices.get(code)
        vends, value = (d.vends, d.value) if d else (Pair(0, 0), Pair(0, 0))
        yield segment("PA7", s.selection, code, 0, s.price,
                      vends.lifetime, value.lifetime, vends.interim, value.interim)


PRODUCT: list[ProductBuilder] = [pa1, pa2, pa4, pa5, pa7]


def products(a: AuditData) -> Iterable[str]:
    for s in a.selections:
        for build in PRODUCT:
            yield from build(a, s)


# --- events and reads ------------------------------------------------------------

def ea2(a: AuditData) -> Iterable[str]:
    """Each event that occurred since the last reset or is active now: code, count
    since reset, since initialisation, (04 unused), active now."""
    for e in a.events:
        yield segment("EA2", e.code, e.count.interim, e.count.lifetime, None, int(e.active))


def ea3(a: AuditData) -> Iterable[str]:
    """Reads: (01 reads with reset: none), this read's date and time, (04), the last
    read's date and time, (07, 08), reads since initialisation, resets."""
    r, prev = a.read, a.read.previous_at
    yield segment("EA3", None, date(r.at), clock(r.at), None,
                  None if prev is None else date(prev), None if prev is None else clock(prev),
                  None, None, r.reads, r.resets)


IDENTIFICATION: list[Builder] = [id1, id4, id5, id6, cb1]
SALES: list[Builder] = [va1, va3]
CASH_BLOCK: list[Builder] = [ca1, ca2, ca3, ca4, ca10, ca15, ca17]
def ba1(a: AuditData) -> Iterable[str]:
    """The bill validator: serial, model, software revision."""
    bills = a.devices.get("bills")
    if bills is not None:
        yield segment("BA1", *(text(f) for f in bills))


DEVICES: list[Builder] = [ba1, *CARD_READER, ha1]  # BA1, DA1/DA2/DA4, HA1: what devices report
EVENTS: list[Builder] = [ea2, ea3]
PRODUCTS: list[Builder] = [products]
REPORT: list[list[Builder]] = [IDENTIFICATION, SALES, CASH_BLOCK, DEVICES, PRODUCTS, EVENTS]


def segments(a: AuditData) -> Iterable[str]:
    """Every data segment of the report, block by block (between ``ST`` and ``G85``)."""
    for block in REPORT:
        for build in block:
            yield from build(a)
