"""What a machine told the broker, checked: the typed records ``vending fleet`` shows.

A broker is shared by every machine of a fleet, and any of them may be broken or
hostile.  Every field of a ``status`` or ``inventory`` message is checked for its
type and range here; a message that fails is kept as the reason the machine is
shown as "bad status" (or "bad inventory"), never as an exception.  Text that
came from the broker (a machine id, a state, a fault's reason, a product name)
reaches the screen only through :func:`printable`, so no escape sequence, line
break or bidi override can draw on the operator's terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 80  # characters of one field shown (after escaping)
MAX_FAULTS = 64
MAX_SLOTS = 400
MAX_COINS = 32
MAX_COUNT = 10**9  # units, coins, sales: far above any machine
MAX_CENTS = 10**12
TS_RANGE = (0.0, 10**11)  # seconds since the epoch: a time before year 5000


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class BadMessage(ValueError):
    """A message that does not have the shape of DESIGN's fleet topics."""


def printable(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` with every non-printable character escaped (``\\x1b``, ``\\n``,
    ``\\u202e``), cut to ``limit`` characters with ``…``."""
    out = []
    for ch in value:
        if ch.isprintable():
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    text = "".join(out)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _text(body: dict[str, Any], key: str, *, where: str, optional: bool = False,
          limit: int = 200) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadMessage(f"{where}{key} is not text of at most {limit} characters")
    return value


def _int(body: dict[str, Any], key: str, *, where: str, low: int = 0, high: int = MAX_COUNT,
         default: int | None = None) -> int:
    value = body.get(key, default)
    # bool is an int in Python, never in these messages
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadMessage(f"{where}{key} is not a whole number from {low} to {high}")
    return value


def _optional_int(body: dict[str, Any], key: str, *, where: str) -> int | None:
    return None if body.get(key) is None else _int(body, key, where=where)


def _list(body: dict[str, Any], key: str, *, limit: int, where: str = "") -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit:
        raise BadMessage(f"{where}{key} is not a list of at most {limit} entries")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadMessage(f"{what} is not an object")
    return value


@dataclass(frozen=True)
class FaultSeen:
    """One active fault as a machine reported it."""

    device: str
    reason: str
    latched: bool


@dataclass(frozen=True)
class Status:
    """A checked ``PREFIX/ID/status`` message."""

    online: bool
    state: str | None = None
    faults: tuple[FaultSeen, ...] = ()
    ts: float | None = None  # when the machine sent it (a clean stop's time too)
    sales_count: int | None = None
    sales_cents: int | None = None


@dataclass(frozen=True)
class SlotSeen:
    slot: str
    product: str | None
    units: int
    ok: bool
    capacity: int | None = None  # None from a machine of an older version
    min_level: int | None = None


@dataclass(frozen=True)
class CoinSeen:
    coin: int
    payout: int
    cashbox: int
    capacity: int | None = None


@dataclass(frozen=True)
class Inventory:
    """A checked ``PREFIX/ID/inventory`` message."""

    slots: tuple[SlotSeen, ...]
    coins: tuple[CoinSeen, ...]


def parse_status(body: Any) -> Status:
    """The status in ``body`` (decoded JSON), or :class:`BadMessage` saying which field."""
    body = _dict(body, "the status")
    online = body.get("online")
    if not isinstance(online, bool):
        raise BadMessage("online is not true or false")
    ts = body.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)
                           or not math.isfinite(ts) or not TS_RANGE[0] <= ts <= TS_RANGE[1]):
        raise BadMessage("ts is not a time")
    if not online:
        return Status(online=False, ts=None if ts is None else float(ts))
    faults = []
    for i, raw in enumerate(_list(body, "faults", limit=MAX_FAULTS)):
        fault = _dict(raw, f"faults[{i}]")
        where = f"faults[{i}]."
        latched = fault.get("latched", False)  # a machine of an older version has none
        if not isinstance(latched, bool):
            raise BadMessage(f"{where}latched is not true or false")
        faults.append(FaultSeen(str(_text(fault, "device", where=where, limit=64)),
                                str(_text(fault, "reason", where=where, limit=500)), latched))
    count = cents = None
    if body.get("salesToday") is not None:
        sales = _dict(body["salesToday"], "salesToday")
        count = _int(sales, "count", where="salesToday.")
        cents = _int(sales, "cents", where="salesToday.", high=MAX_CENTS)
    return Status(online=True, state=_text(body, "state", where="", limit=32),
                  faults=tuple(faults), ts=None if ts is None else float(ts),
                  sales_count=count, sales_cents=cents)


def parse_inventory(body: Any) -> Inventory:
    """The inventory in ``body`` (decoded JSON), or :class:`BadMessage`."""
    body = _dict(body, "the inventory")
    slots = []
    for i, raw in enumerate(_list(body, "slots", limit=MAX_SLOTS)):
        slot = _dict(raw, f"slots[{i}]")
        where = f"slots[{i}]."
        slots.append(SlotSeen(
            slot=str(_text(slot, "slot", where=where, limit=8)),
            product=_text(slot, "productName", where=where, optional=True),
            units=_int(slot, "amountAvailable", where=where, default=0),
            ok=_text(slot, "status", where=where, limit=32) == "ok",
            capacity=_optional_int(slot, "capacity", where=where),
            min_level=_optional_int(slot, "minLevel", where=where)))
    coins = []
    for i, raw in enumerate(_list(body, "coins", limit=MAX_COINS)):
        coin = _dict(raw, f"coins[{i}]")
        where = f"coins[{i}]."
        coins.append(CoinSeen(coin=_int(coin, "coin", where=where, low=1, high=100_000),
                              payout=_int(coin, "payout", where=where, default=0),
                              cashbox=_int(coin, "cashbox", where=where, default=0),
                              capacity=_optional_int(coin, "capacity", where=where)))
    return Inventory(tuple(slots), tuple(coins))
