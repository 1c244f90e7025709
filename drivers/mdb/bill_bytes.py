"""The bill validator's bytes (MDB 4.2 §6, address 30): SETUP, STACKER and POLL items.

Pure functions, shared by the driver (``drivers.mdb.bills``) and the simulated
validator; MDB.md §3's bytes are their golden tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drivers.mdb.changer_bytes import bcd, padded

BILLS = 0x30
RESET, SETUP, SECURITY, POLL, BILL_TYPE, ESCROW, STACKER, EXPANSION = range(8)
JUST_RESET = 0x06
DISABLED = 0x09
STATUS_MEANING = {
    0x01: "defective motor", 0x02: "sensor problem", 0x03: "validator busy",
    0x04: "ROM checksum error", 0x05: "validator jammed", 0x06: "validator was reset",
    0x07: "bill removed", 0x08: "cash box out of position", 0x09: "validator disabled",
    0x0A: "invalid escrow request", 0x0B: "bill rejected", 0x0C: "possible credited bill removal",
}
FAULT_STATUSES = {0x01, 0x02, 0x04, 0x05, 0x08}  # it reports 09 until fixed


@dataclass(frozen=True, slots=True)
class BillSetup:
    """What SETUP says: level, currency, scaling, the value of each bill type."""

    level: int
    currency: int
    scaling: int
    decimals: int
    stacker_capacity: int
    escrow: bool
    credits: tuple[int, ...]

    def value_cents(self, bill_type: int) -> int | None:
        credit = self.credits[bill_type]
        if credit in (0, 0xFF) or self.scaling == 0:
            return None
        if self.decimals <= 2:
            return int(credit * self.scaling * 10 ** (2 - self.decimals))
        return int(credit * self.scaling // 10 ** (self.decimals - 2))

    @property
    def bills_cents(self) -> dict[int, int]:
        return {t: v for t in range(16) if (v := self.value_cents(t)) is not None}


def parse_setup(data: bytes) -> BillSetup:
    if len(data) < 11:
        raise ValueError(f"bill validator SETUP reply of {len(data)} bytes")
    raw = padded(data, 27)
    return BillSetup(level=raw[0], currency=bcd(raw[1:3]) % 1000,
                     scaling=int.from_bytes(raw[3:5], "big"), decimals=raw[5],
                     stacker_capacity=int.from_bytes(raw[6:8], "big"), escrow=raw[10] == 0xFF,
                     credits=tuple(raw[11:27]))


class BillRoute(enum.IntEnum):
    STACKED = 0
    ESCROW = 1
    RETURNED = 2
    RECYCLER = 3
    DISABLED_REJECTED = 4


class BillItemKind(enum.StrEnum):
    BILL = "bill"  # 1yyyxxxx
    ATTEMPTS = "attempts"  # 010xxxxx: bills inserted while disabled
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class BillItem:
    kind: BillItemKind
    bill_type: int = 0
    route: BillRoute = BillRoute.STACKED
    status: int = 0
    count: int = 0


def parse_poll(data: bytes) -> list[BillItem]:
    """Every item of a POLL reply, in order (one byte each)."""
    items: list[BillItem] = []
    for b in data:
        if b & 0x80:
            route = (b >> 4) & 0x07
            items.append(BillItem(BillItemKind.BILL, bill_type=b & 0x0F,
                                  route=BillRoute(route) if route <= 4 else
                                  BillRoute.DISABLED_REJECTED))
        elif b & 0xE0 == 0x40:
            items.append(BillItem(BillItemKind.ATTEMPTS, count=b & 0x1F))
        else:
            items.append(BillItem(BillItemKind.STATUS, status=b))
    return items


def parse_stacker(data: bytes) -> tuple[bool, int]:
    """STACKER: (full, bills in the stacker)."""
    raw = padded(data, 2)
    value = int.from_bytes(raw[:2], "big")
    return bool(value & 0x8000), value & 0x7FFF


def bill_item(bill_type: int, route: BillRoute) -> int:
    return 0x80 | int(route) << 4 | bill_type & 0x0F


def bill_type_data(accept_mask: int, escrow_mask: int) -> bytes:
    return accept_mask.to_bytes(2, "big") + escrow_mask.to_bytes(2, "big")
