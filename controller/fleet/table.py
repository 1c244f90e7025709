"""The fleet table: one line per machine, the fleet's totals, each fault spelled out.

Columns are a list of (header, cell) pairs over :class:`MachineRecord`, so a
view that wants other columns builds its own list.  Every piece of text from the
broker goes through :func:`printable` before it is placed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.fleet.picture import FleetPicture, MachineRecord
from controller.fleet.status import SlotSeen, printable
from controller.money import format_cents

LOW_STOCK_UNITS = 2


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[MachineRecord], str]


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 machine``, ``2 machines``, ``0 faults``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def when(ts: float, now: float) -> str:
    """A past time as the operator reads it: ``14:03:12`` today, else the date too."""
    local, today = time.localtime(ts), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def _online(m: MachineRecord) -> str:
    if m.bad_status is not None:
        return "?"
    if m.status is None:
        return "-"
    return "yes" if m.status.online else "NO"


def _state(m: MachineRecord) -> str:
    if m.bad_status is not None:
        return "bad status"
    if m.status is None or not m.status.online:
        return "-"
    return printable(m.status.state or "-", 24)


def _faults(m: MachineRecord) -> str:
    if not m.online or m.status is None or not m.status.faults:
        return "-"
    return ",".join(printable(f.device, 24) + ("!" if f.latched else "")
                    for f in m.status.faults)


def _low_at(s: SlotSeen) -> int:
    """A slot is low at or under its minimum level (``LOW_STOCK_UNITS`` from a machine of
    an older version, whose inventory has none)."""
    return LOW_STOCK_UNITS if s.min_level is None else s.min_level


def _slots(m: MachineRecord, *, empty: bool) -> str:
    if m.inventory is None:
        return "-"
    found = []
    for s in m.inventory.slots:
        if s.product is None:
            continue  # an unused slot is neither empty nor low
        name = printable(s.slot, 8)
        if empty and (s.units == 0 or not s.ok):
            found.append(name + ("" if s.ok else "!"))
        elif not empty and 0 < s.units <= _low_at(s) and s.ok:
            found.append(name)
    return ",".join(found) or "-"


def _cash(m: MachineRecord, where: str) -> str:
    if m.inventory is None or not m.inventory.coins:
        return "-"
    return format_cents(sum(c.coin * (c.payout if where == "payout" else c.cashbox)
                            for c in m.inventory.coins))


def _sales(m: MachineRecord) -> str:
    s = m.status
    if not m.online or s is None or s.sales_count is None or s.sales_cents is None:
        return "-"
    return f"{s.sales_count} / {format_cents(s.sales_cents)}"


COLUMNS: tuple[Column, ...] = (
    Column("MACHINE", lambda m: printable(m.machine_id, 24)),
    Column("ONLINE", _online),
    Column("STATE", _state),
    Column("FAULTS", _faults),
    Column("EMPTY", lambda m: _slots(m, empty=True)),
    Column("LOW", lambda m: _slots(m, empty=False)),
    Column("HOPPERS", lambda m: _cash(m, "payout")),
    Column("CASHBOX", lambda m: _cash(m, "cashbox")),
    Column("SALES TODAY", _sales),
)


def grid(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as left-aligned columns two spaces apart."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def totals(picture: FleetPicture) -> str:
    """``3 machines, 2 online, 1 fault, sales today 5 / 2.80``."""
    machines = picture.sorted()
    online = [m for m in machines if m.online]
    count = sum(m.status.sales_count or 0 for m in online if m.status is not None)
    cents = sum(m.status.sales_cents or 0 for m in online if m.status is not None)
    line = (f"{plural(len(machines), 'machine')}, {len(online)} online, "
            f"{plural(sum(m.faults for m in machines), 'fault')}, "
            f"sales today {count} / {format_cents(cents)}")
    bad = sum(1 for m in machines if m.bad_status is not None)
    return line + (f", {bad} with a bad status" if bad else "")


def notes(picture: FleetPicture, now: float) -> list[str]:
    """Below the table: each fault with its reason, offline machines' last sighting,
    and why a machine's message was refused."""
    lines = []
    for m in picture.sorted():
        name = printable(m.machine_id, 24)
        if m.bad_status is not None:
            lines.append(f"{name}: bad status ({printable(m.bad_status)})")
        if m.bad_inventory is not None:
            lines.append(f"{name}: bad inventory ({printable(m.bad_inventory)})")
        if m.status is None or m.bad_status is not None:
            continue
        if not m.status.online:
            seen = "unknown" if m.last_seen is None else when(m.last_seen, now)
            lines.append(f"{name}: offline, last seen {seen}")
            continue
        for f in m.status.faults:
            kind = "latched" if f.latched else "heals by itself"
            lines.append(f"{name}: {printable(f.device, 24)} fault, {kind}: "
                         f"{printable(f.reason)}")
    return lines


def render(picture: FleetPicture, now: float | None = None,
           columns: Sequence[Column] = COLUMNS) -> str:
    """The whole table as text, every broker-given string escaped."""
    now = time.time() if now is None else now
    rows = [tuple(c.header for c in columns)]
    rows += [tuple(c.cell(m) for c in columns) for m in picture.sorted()]
    lines = [*grid(rows), totals(picture)]
    extra = notes(picture, now)
    return "\n".join(lines + (["", *extra] if extra else []))
