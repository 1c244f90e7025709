"""The MDB cashless reader's bytes: commands out, POLL replies in (MDB/ICP 4.2 §7).

Pure functions, no I/O: ``drivers.mdb.cashless`` sends these through the
MDB link, which frames them and checks the CHK; the payloads here carry no
CHK.  A reply may chain several items (``06 0A 07 04``: denied, a
malfunction with code 07, a cancel request); ``parse_items`` splits them by
each item's own length and stops at a code it does not know (logged by the
caller, never guessed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

READER_1 = 0x10  # the first cashless device; the second is at 0x60

RESET, SETUP, POLL, VEND, READER, EXPANSION = 0, 1, 2, 3, 4, 7  # command offsets
SETUP_CONFIG, SETUP_PRICES = 0x00, 0x01
VEND_REQUEST, VEND_CANCEL, VEND_SUCCESS, VEND_FAILURE, SESSION_COMPLETE, CASH_SALE = range(6)
READER_DISABLE, READER_ENABLE, READER_CANCEL = 0x00, 0x01, 0x02
EXPANSION_ID, EXPANSION_ENABLE_OPTIONS = 0x00, 0x04

OPTION_REFUNDS, OPTION_MULTIVEND, OPTION_CASH_SALE = 0x01, 0x02, 0x08  # reader config
FEATURE_32BIT, FEATURE_NEGATIVE_VEND, FEATURE_ALWAYS_IDLE = 0x02, 0x08, 0x20  # L3 ID options
UNKNOWN_FUNDS = 0xFFFF


class Item(enum.IntEnum):
    """The first byte of each POLL reply item."""

    JUST_RESET = 0x00
    CONFIG = 0x01
    DISPLAY = 0x02
    BEGIN_SESSION = 0x03
    CANCEL_REQUEST = 0x04
    APPROVED = 0x05
    DENIED = 0x06
    END_SESSION = 0x07
    CANCELLED = 0x08
    PERIPHERAL_ID = 0x09
    MALFUNCTION = 0x0A
    OUT_OF_SEQUENCE = 0x0B
    REVALUE_APPROVED = 0x0D
    REVALUE_DENIED = 0x0E
    REVALUE_LIMIT = 0x0F
    TIME_REQUEST = 0x11
    DATA_ENTRY_REQUEST = 0x12
    DATA_ENTRY_CANCEL = 0x13


@dataclass(frozen=True)
class ReplyItem:
    """One item of a reply: its code and its data (the bytes after the code)."""

    code: int
    data: bytes = b""

    def word(self, offset: int = 0) -> int:
        """The 2-byte big-endian value at ``offset`` of the data."""
        return int.from_bytes(self.data[offset:offset + 2].ljust(2, b"\0"), "big")


@dataclass(frozen=True)
class ReaderConfig:
    """The reader's answer to SETUP config data (item ``01``)."""

    level: int
    currency: int  # BCD as sent, e.g. 0x1978 for EUR
    scale: int
    decimals: int
    max_response_s: int
    options: int

    def cents(self, units: int) -> int:
        """A reader value (units of scale x 10^-decimals) in cents."""
        if self.decimals <= 2:
            return int(units * self.scale * 10 ** (2 - self.decimals))
        return int(units * self.scale // 10 ** (self.decimals - 2))

    def units(self, cents: int) -> int:
        """Cents as a reader value; ValueError when not a whole number of units."""
        step = self.cents(1)
        if step <= 0 or cents % step:
            raise ValueError(f"{cents} cents is not a multiple of the reader's unit {step}")
        return cents // step


@dataclass(frozen=True)
class PeripheralId:
    maker: str
    serial: str
    model: str
    software: int
    features: int = 0  # level 3 option bits (FEATURE_*)


def _length(code: int, rest: bytes, level: int) -> int | None:
    """The length of the item starting with ``code`` (code included), or None."""
    fixed: dict[int, int] = {
        Item.JUST_RESET: 1, Item.CONFIG: 8, Item.CANCEL_REQUEST: 1, Item.APPROVED: 3,
        Item.DENIED: 1, Item.END_SESSION: 1, Item.CANCELLED: 1, Item.MALFUNCTION: 2,
             Item.REVALUE_APPROVED: 1, Item.REVALUE_DENIED: 1, Item.REVALUE_LIMIT: 3,
             Item.TIME_REQUEST: 1, Item.DATA_ENTRY_REQUEST: 2, Item.DATA_ENTRY_CANCEL: 1}
    if code in fixed:
        return fixed[code]
    if code == Item.BEGIN_SESSION:
        return 10 if level >= 2 and len(rest) >= 9 else 3
    if code == Item.DISPLAY:
        return 1 + min(len(rest), 33)
    if code == Item.PERIPHERAL_ID:
        return 34 if len(rest) >= 33 else 30
    if code == Item.OUT_OF_SEQUENCE:
        return 2 if level >= 2 and len(rest) >= 1 and rest[0] < 0x10 else 1
    return None


def parse_items(payload: bytes, level: int = 1) -> tuple[list[ReplyItem], bytes]:
    """Split a reply into items; returns them and any bytes left unparsed."""
    items: list[ReplyItem] = []
    at = 0
    while at < len(payload):
        code = payload[at]
        length = _length(code, payload[at + 1:], level)
        if length is None or at + length > len(payload):
            return items, payload[at:]
        items.append(ReplyItem(code, bytes(payload[at + 1:at + length])))
        at += length
    return items, b""


def parse_config(item: ReplyItem) -> ReaderConfig:
    d = item.data.ljust(7, b"\0")
    return ReaderConfig(level=d[0], currency=int.from_bytes(d[1:3], "big"), scale=d[3] or 1,
                        decimals=d[4], max_response_s=d[5], options=d[6])


def parse_id(item: ReplyItem) -> PeripheralId:
    d = item.data.ljust(29, b"\0")
    text = d[:27].decode("ascii", "replace")
    features = int.from_bytes(d[29:33], "big") if len(item.data) >= 33 else 0
    return PeripheralId(maker=text[:3].strip(), serial=text[3:15].strip(),
                        model=text[15:27].strip(), software=int.from_bytes(d[27:29], "big"),
                        features=features)


# --- commands: (command byte, data) ------------------------------------------


def command(base: int, offset: int) -> int:
    return base + offset


def setup_config(level: int = 3, columns: int = 0, rows: int = 0) -> bytes:
    """``11 00``: the VMC's level and display (none)."""
    return bytes([SETUP_CONFIG, level, columns, rows, 0])


def setup_prices(max_units: int = 0xFFFF, min_units: int = 0) -> bytes:
    """``11 01``: the highest and lowest price (``FFFF``/``0000`` when unknown)."""
    return bytes([SETUP_PRICES]) + max_units.to_bytes(2, "big") + min_units.to_bytes(2, "big")


def vend_request(price_units: int, item: int) -> bytes:
    return bytes([VEND_REQUEST]) + price_units.to_bytes(2, "big") + item.to_bytes(2, "big")


def vend_success(item: int) -> bytes:
    return bytes([VEND_SUCCESS]) + item.to_bytes(2, "big")


def vmc_id(maker: str = "RPV", serial: str = "", model: str = "", software: int = 0) -> bytes:
    """``17 00``: the VMC's identity (29 bytes after the sub-command)."""
    text = f"{maker:<3.3}{serial:<12.12}{model:<12.12}".encode("ascii", "replace")
    return bytes([EXPANSION_ID]) + text + software.to_bytes(2, "big")


def enable_options(features: int) -> bytes:
    return bytes([EXPANSION_ENABLE_OPTIONS]) + features.to_bytes(4, "big")
