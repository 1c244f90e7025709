"""Coin identities and acceptor event codes of the ccTalk coin acceptor.

Maps the ``CCvvvI`` coin id strings a coin acceptor reports per position to
coin values, builds the two-byte inhibit mask, and names the event codes of
header 229.  Pure functions; no I/O.

Not modelled: coin ids with a value multiplier letter (``EU1K0A`` style) unless
the config maps them, and bill validators (header 159).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from drivers.base import CoinEventKind
from drivers.cctalk.acceptor_events import classify

POSITIONS = range(1, 17)
EVENT_PAIRS = 5

CoinMapConfig = Mapping[str | int, int]



def parse_coin_id(raw: bytes) -> str | None:
    """The id string, or None for an unused position (empty, dots, blanks)."""
    text = raw.decode("ascii", errors="replace").strip().strip("\x00")
    if not text or set(text) <= {".", " "}:
        return None
    return text


def value_from_coin_id(coin_id: str) -> int | None:
    """``CCvvvI`` -> vvv as cents (EU100A -> 100); None if it does not parse."""
    if len(coin_id) != 6 or not coin_id[2:5].isdigit():
        return None
    value = int(coin_id[2:5])
    return value or None


def resolve_coin_values(ids: Mapping[int, str | None],
                        config: CoinMapConfig | None = None) -> dict[int, int]:
    """Position -> value in cents, from the ids read and the config.

    A config entry keyed by position wins, then one keyed by coin id, then the
    value encoded in the id itself.  Positions with no id and no config entry
    are unused.
    """
    config = config or {}
    values: dict[int, int] = {}
    for position in POSITIONS:
        coin_id = ids.get(position)
        value: int | None = config.get(position)
        if value is None and coin_id is not None:
            value = config.get(coin_id, value_from_coin_id(coin_id))
        if value is not None and value > 0:
            values[position] = value
    return values


def inhibit_mask(values: Mapping[int, int], enabled_cents: Collection[int]) -> bytes:
    """Header 231 data: two bytes, bit 0 of the first is position 1, 1 = enabled."""
    mask = 0
    for position, value in values.items():
        if value in enabled_cents:
            mask |= 1 << (position - 1)
    return bytes((mask & 0xFF, (mask >> 8) & 0xFF))


def event_kind(code: int) -> CoinEventKind:
    """The kind of an A = 0 event of header 229 (B is the code)."""
    return classify(code).kind


def new_event_count(counter: int, last: int) -> int:
    """Events since ``last``: the counter runs 1..255 and wraps to 1, never 0.

    ``last`` 0 means "just after a device reset": every event counts.
    """
    if counter == last:
        return 0
    if last == 0:
        return counter
    return (counter - last) % 255
