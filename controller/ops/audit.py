"""The EVA-DTS (DEX) audit report, built from the store's counters.

Lines ``TAG*field*...`` end with CRLF inside ``DXS ... ST ... G85 SE DXE``.
``G85`` is the CRC-16/ARC of every byte from ``ST`` through the line before
``G85``; ``SE`` counts the lines from ``ST`` to ``SE``.  Lifetime counters
never reset; interim ones reset only on an audited cashbox collection.
``CA1`` and one ``HA1`` per hopper name the payment devices (serial, model,
software revision) as they identified themselves at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from controller.store.device_info import identities

CRLF = "\r\n"


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: poly 0xA001 (reflected 0x8005), init 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True)
class Pair:
    lifetime: int
    interim: int


@dataclass(frozen=True)
class SelectionAudit:
    selection: str  # "11" for A1: row number then column
    price: int
    vends: Pair
    value: Pair


@dataclass(frozen=True)
class AuditData:
    machine_id: str
    model: str
    software_version: str
    currency: str
    currency_code: int
    sales_value: Pair
    sales_count: Pair
    cash_in: Pair
    cash_to_cashbox: Pair
    cash_to_hoppers: Pair
    change_paid: Pair
    refills: Pair
    failed_vends: Pair
    selections: Sequence[SelectionAudit] = field(default_factory=list)
    acceptor_model: str = "CCTALK-ACC"
    asset_number: str = ""
    acceptor: DeviceId | None = None  # CA1 from what the acceptor said it is
    hoppers: Sequence[DeviceId] = field(default_factory=list)  # one HA1 each, coin order


@dataclass(frozen=True)
class DeviceId:
    """A payment device as CA1/HA1 name it: serial, model, software revision."""

    serial: str
    model: str
    revision: str

    @classmethod
    def from_identity(cls, identity: Mapping[str, Any]) -> DeviceId:
        """From a stored identity (``drivers.base.DeviceIdentity.as_json``); the
        model is the product code, else the manufacturer."""
        model = identity.get("productCode") or identity.get("manufacturer") or ""
        return cls(_field(identity.get("serialNumber")), _field(model),
                   _field(identity.get("softwareRevision")))


def _field(value: object) -> str:
    """A DEX field: no separators or line ends inside it."""
    text = "" if value is None else str(value)
    return "".join(c for c in text if c not in "*\r\n~")


def selection_number(slot: str, rows: str) -> str:
    return f"{rows.index(slot[0]) + 1}{slot[1:]}"


def _lifetime_first(*pairs: Pair) -> str:
    """VA1, CA2, PA2: every figure since initialisation, then since the last reset."""
    return "*".join([*(str(p.lifetime) for p in pairs), *(str(p.interim) for p in pairs)])


def _reset_first(*pairs: Pair) -> str:
    """CA3, CA4, CA10, EA2: every figure since the last reset, then since initialisation."""
    return "*".join([*(str(p.interim) for p in pairs), *(str(p.lifetime) for p in pairs)])


def render(a: AuditData) -> str:
    """The DEX text, CRLF line ends, with a correct G85 and SE.

    Field order per EVA-DTS 6.x (route software reads it by position): VA1,
    CA2 and PA2 give lifetime figures first; CA3, CA4, CA10 and EA2 give the
    since-reset figures first.  Bills and manual dispenses are always 0 here.
    """
    none = Pair(0, 0)
    body = [
        "ST*001*0001",
        f"ID1*{a.machine_id}*{a.model}*1***{a.asset_number}",
        f"ID4*2*{a.currency_code}*{a.currency}",
        f"CB1*{a.machine_id}*{a.model}*{a.software_version}",
        f"VA1*{_lifetime_first(a.sales_value, a.sales_count)}",
        _ca1(a),
        f"CA2*{_lifetime_first(a.sales_value, a.sales_count)}",
        f"CA3*{_reset_first(a.cash_in, a.cash_to_cashbox, a.cash_to_hoppers, none)}",
        f"CA4*{_reset_first(a.change_paid, none)}",
        f"CA10*{_reset_first(a.refills)}",
    ]
    body.extend(f"HA1*{h.serial}*{h.model}*{h.revision}" for h in a.hoppers)
    for s in a.selections:
        body.append(f"PA1*{s.selection}*{s.price}")
        body.append(f"PA2*{_pa2(s)}")
    body.append(f"EA2*EJL*{_reset_first(a.failed_vends)}")
    crc = crc16_arc("".join(line + CRLF for line in body).encode("ascii"))
    body.append(f"G85*{crc:04X}")
    body.append(f"SE*{len(body) + 1}*0001")
    lines = [f"DXS*{a.machine_id}*VA*V1/1*1", *body, "DXE*1*1"]
    return "".join(line + CRLF for line in lines)


def _ca1(a: AuditData) -> str:
    """CA1: the coin mechanism's serial, model and software revision."""
    if a.acceptor is None:
        return f"CA1*0*{a.acceptor_model}*1"
    return f"CA1*{a.acceptor.serial}*{a.acceptor.model}*{a.acceptor.revision}"


def _pa2(s: SelectionAudit) -> str:
    """PA2: count and value since initialisation, then count and value since reset."""
    return f"{s.vends.lifetime}*{s.value.lifetime}*{s.vends.interim}*{s.value.interim}"


def collect(db: sqlite_utils.Database, *, machine_id: str, model: str, software_version: str,
            currency: str, currency_code: int, rows: str, asset_number: str = "") -> AuditData:
    """Read the counters into an AuditData."""
    c = {r[0]: Pair(int(r[1]), int(r[2]))
         for r in db.conn.execute("SELECT name, lifetime, interim FROM counters")}
    zero = Pair(0, 0)
    selections = []
    for row in db.conn.execute(
        "SELECT sc.slot, p.cost, sc.vends, sc.value, sc.interim_vends, sc.interim_value "
        "FROM slot_counters sc JOIN slots s ON s.code = sc.slot "
        "LEFT JOIN products p ON p.slot = sc.slot "
        "WHERE p.id IS NOT NULL OR sc.vends > 0 ORDER BY s.position"
    ):
        selections.append(SelectionAudit(
            selection=selection_number(row[0], rows),
            price=int(row[1] or 0),
            vends=Pair(int(row[2]), int(row[4])),
            value=Pair(int(row[3]), int(row[5])),
        ))
    known = identities(db)
    acceptor = known.get("acceptor")
    hoppers = [DeviceId.from_identity(known[name]) for name in sorted(
        (n for n in known if n.startswith("hopper:")), key=lambda n: int(n.split(":")[1]))]
    return AuditData(
        acceptor=None if acceptor is None else DeviceId.from_identity(acceptor), hoppers=hoppers,
        machine_id=machine_id, model=model, software_version=software_version,
        currency=currency, currency_code=currency_code,
        sales_value=c.get("sales_value", zero), sales_count=c.get("sales_count", zero),
        cash_in=c.get("cash_in", zero), cash_to_cashbox=c.get("cash_to_cashbox", zero),
        cash_to_hoppers=c.get("cash_to_hoppers", zero), change_paid=c.get("change_paid", zero),
        refills=c.get("refills", zero), failed_vends=c.get("failed_vends", zero),
        selections=selections, asset_number=asset_number,
    )
