"""The coin changer's bytes (MDB 4.2 §5, address 08): commands, replies and POLL items.

Pure functions, no I/O: the driver (``drivers.mdb.changer``) and the simulated
changer both use them, and the byte tables of MDB.md are their golden tests.
Short SETUP and TUBE STATUS replies are read with the missing bytes as 0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

CHANGER = 0x08
RESET, SETUP, TUBE_STATUS, POLL, COIN_TYPE, DISPENSE, EXPANSION = 0, 1, 2, 3, 4, 5, 7
EXP_ID, EXP_FEATURE_ENABLE, EXP_ALT_PAYOUT, EXP_PAYOUT_STATUS, EXP_VALUE_POLL, EXP_DIAG = (
    0, 1, 2, 3, 4, 5)
TYPES = 16
MAX_DISPENSE = 15  # coins of one type per DISPENSE
JUST_RESET = 0x0B
PAYOUT_BUSY = 0x02
OPTION_ALT_PAYOUT = 0x01
OPTION_DIAG = 0x02


def bcd(raw: bytes) -> int:
    """A BCD number (``19 78`` -> 1978; a bad nibble reads as its value anyway)."""
    value = 0
    for byte in raw:
        value = value * 100 + (byte >> 4) * 10 + (byte & 0x0F)
    return value


def padded(data: bytes, length: int) -> bytes:
    """Missing trailing bytes of a short reply are 0 (MDB 4.2, and changers in the field)."""
    return data[:length] + bytes(max(0, length - len(data)))


@dataclass(frozen=True, slots=True)
class ChangerSetup:
    """What SETUP says: level, currency, the value of each coin type, tube routing."""

    level: int
    currency: int  # ISO 4217 numeric from the BCD (1978 -> 978)
    scaling: int
    decimals: int
    tube_mask: int  # bit n: coin type n can go to a tube
    credits: tuple[int, ...]  # 16 raw credit bytes

    def value_cents(self, coin_type: int) -> int | None:
        """The value of a coin type in cents; None for an unused type or a token."""
        credit = self.credits[coin_type]
        if credit in (0, 0xFF) or self.scaling == 0:
            return None
        if self.decimals <= 2:
            return int(credit * self.scaling * 10 ** (2 - self.decimals))
        return int(credit * self.scaling // 10 ** (self.decimals - 2))

    def type_of(self, cents: int) -> int | None:
        """The first coin type of this value (None: the changer takes no such coin)."""
        return next((t for t in range(TYPES) if self.value_cents(t) == cents), None)

    @property
    def coins_cents(self) -> dict[int, int]:
        """Coin type -> value in cents, for every type that has a value."""
        return {t: v for t in range(TYPES) if (v := self.value_cents(t)) is not None}


def parse_setup(data: bytes) -> ChangerSetup:
    """Read a SETUP reply (7 to 23 bytes; ValueError when shorter or not level 2/3)."""
    if len(data) < 7:
        raise ValueError(f"changer SETUP reply of {len(data)} bytes")
    raw = padded(data, 23)
    if raw[0] not in (2, 3):
        raise ValueError(f"changer level {raw[0]} (only 2 and 3 are supported)")
    return ChangerSetup(level=raw[0], currency=bcd(raw[1:3]) % 1000, scaling=raw[3],
                        decimals=raw[4], tube_mask=int.from_bytes(raw[5:7], "big"),
                        credits=tuple(raw[7:23]))


@dataclass(frozen=True, slots=True)
class TubeStatus:
    """What TUBE STATUS says: which tubes are full, and each tube's count (a lower bound)."""

    full_mask: int
    counts: tuple[int, ...]  # 16 counts

    def bad_tube(self, coin_type: int) -> bool:
        """Full and zero at once: the changer says that tube is out of order."""
        return bool(self.full_mask >> coin_type & 1) and self.counts[coin_type] == 0


def parse_tube_status(data: bytes) -> TubeStatus:
    raw = padded(data, 18)
    return TubeStatus(int.from_bytes(raw[0:2], "big"), tuple(raw[2:18]))


class Route(enum.StrEnum):
    CASHBOX = "cashbox"
    TUBE = "tube"
    UNUSED = "unused"  # routing 10: "not used", seen in the field
    REJECT = "reject"


class ItemKind(enum.StrEnum):
    DEPOSIT = "deposit"  # 01yyxxxx zz
    MANUAL = "manual"  # 1yyyxxxx zz: coins dispensed by hand at the changer
    SLUGS = "slugs"  # 001xxxxx
    STATUS = "status"  # 0000xxxx and the rest


@dataclass(frozen=True, slots=True)
class ChangerItem:
    """One item of a POLL reply."""

    kind: ItemKind
    coin_type: int = 0
    count: int = 0  # coins (manual dispense), slugs
    route: Route = Route.CASHBOX
    tube_count: int = 0
    status: int = 0  # the status byte (STATUS items)


ROUTES = {0: Route.CASHBOX, 1: Route.TUBE, 2: Route.UNUSED, 3: Route.REJECT}


def parse_poll(data: bytes) -> list[ChangerItem]:
    """Every item of a POLL reply, by its mask, in order (a trailing half item is dropped)."""
    items: list[ChangerItem] = []
    i = 0
    while i < len(data):
        b = data[i]
        if b & 0x80:  # 1yyyxxxx zz
            if i + 1 >= len(data):
                break
            items.append(ChangerItem(ItemKind.MANUAL, coin_type=b & 0x0F, count=(b >> 4) & 0x07,
                                     tube_count=data[i + 1]))
            i += 2
        elif b & 0x40:  # 01yyxxxx zz
            if i + 1 >= len(data):
                break
            items.append(ChangerItem(ItemKind.DEPOSIT, coin_type=b & 0x0F,
                                     route=ROUTES[(b >> 4) & 0x03], tube_count=data[i + 1]))
            i += 2
        elif b & 0x20:  # 001xxxxx
            items.append(ChangerItem(ItemKind.SLUGS, count=b & 0x1F))
            i += 1
        else:
            items.append(ChangerItem(ItemKind.STATUS, status=b))
            i += 1
    return items


STATUS_MEANING = {
    0x01: "escrow request (coin return lever)", 0x02: "changer payout busy",
    0x03: "no credit: a valid coin did not reach its place", 0x04: "defective tube sensor",
    0x05: "double arrival", 0x06: "acceptor unplugged", 0x07: "tube jam",
    0x08: "ROM checksum error", 0x09: "coin routing error", 0x0A: "changer busy",
    0x0B: "changer was reset", 0x0C: "coin jam", 0x0D: "possible credited coin removal",
}


def deposit_item(coin_type: int, route: Route, tube_count: int) -> bytes:
    """The two bytes of a deposit item (used by the simulated changer)."""
    code = {Route.CASHBOX: 0, Route.TUBE: 1, Route.UNUSED: 2, Route.REJECT: 3}[route]
    return bytes([0x40 | code << 4 | coin_type & 0x0F, min(tube_count, 255)])


def manual_item(coin_type: int, count: int, tube_count: int) -> bytes:
    return bytes([0x80 | (count & 0x07) << 4 | coin_type & 0x0F, min(tube_count, 255)])


def coin_type_data(accept_mask: int, manual_mask: int) -> bytes:
    return accept_mask.to_bytes(2, "big") + manual_mask.to_bytes(2, "big")


def dispense_data(coin_type: int, count: int) -> bytes:
    if not 0 <= coin_type < TYPES or not 1 <= count <= MAX_DISPENSE:
        raise ValueError(f"DISPENSE of {count} coin(s) of type {coin_type}")
    return bytes([count << 4 | coin_type])
