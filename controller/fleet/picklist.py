"""``vending fleet --picklist``: what to load into the van for the whole round.

It reads every machine's retained ``inventory`` and ``status`` (through the
fleet view's :class:`FleetPicture`, which checks every field) and adds up, per
machine and for the round, what fills each slot that holds a product to its
capacity and each hopper to its capacity: the same sums as
``GET /machine/picklist`` on each machine.  Printed as a table, or as JSON with
``--json``.  A machine whose inventory was refused, or comes from an older
version without capacities, is listed with a note and left out of the sums;
every name goes through :func:`printable`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from controller.config import TelemetryConfig
from controller.fleet.picture import FleetPicture, MachineRecord
from controller.fleet.status import Inventory, printable
from controller.fleet.view import snapshot
from controller.money import format_cents


@dataclass
class MachineList:
    """One machine's pick list, or why it has none."""

    machine_id: str
    online: bool
    slots: list[dict[str, Any]] = field(default_factory=list)
    coins: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None

    def products(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for slot in self.slots:
            totals[slot["productName"]] = totals.get(slot["productName"], 0) + slot["bring"]
        return totals

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"machine": self.machine_id, "online": self.online,
                               "slots": self.slots, "products": _product_rows(self.products()),
                               "coins": self.coins}
        if self.problem is not None:
            out["problem"] = self.problem
        return out


def machine_list(record: MachineRecord) -> MachineList:
    """The pick list of one machine from its checked retained messages."""
    found = MachineList(printable(record.machine_id), record.online)
    inventory = record.inventory
    if record.bad_inventory is not None or inventory is None:
        found.problem = ("no inventory reported" if record.bad_inventory is None else
                         f"inventory refused ({printable(record.bad_inventory)}): left out")
        return found
    if _capacity_missing(inventory):
        found.problem = "inventory without capacities (an older version): left out"
        return found
    for s in inventory.slots:
        if s.product is None or s.capacity is None:
            continue  # an unused slot: nothing to bring for it
        units = min(s.units, s.capacity)
        found.slots.append({"slot": printable(s.slot, 8), "productName": printable(s.product),
                            "amountAvailable": units, "capacity": s.capacity,
                            "minLevel": s.min_level or 0, "bring": s.capacity - units})
    found.coins = [{"coin": c.coin, "payout": c.payout, "capacity": c.capacity,
                    "bring": max(0, c.capacity - c.payout)}
                   for c in inventory.coins if c.capacity]
    return found


def _capacity_missing(inventory: Inventory) -> bool:
    return (any(s.product is not None and s.capacity is None for s in inventory.slots)
            or any(c.capacity is None for c in inventory.coins))


def _product_rows(totals: dict[str, int]) -> list[dict[str, Any]]:
    return [{"productName": name, "bring": n}
            for name, n in sorted(totals.items(), key=lambda t: (-t[1], t[0]))]


def round_json(machines: list[MachineList]) -> dict[str, Any]:
    """Per machine and for the whole round."""
    products: dict[str, int] = {}
    coins: dict[int, int] = {}
    for m in machines:
        for name, n in m.products().items():
            products[name] = products.get(name, 0) + n
        for c in m.coins:
            coins[c["coin"]] = coins.get(c["coin"], 0) + c["bring"]
    return {"machines": [m.as_json() for m in machines],
            "total": {"products": _product_rows(products),
                      "coins": [{"coin": c, "bring": coins[c]} for c in sorted(coins)]}}


def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def _coin_lines(coins: list[dict[str, Any]]) -> list[str]:
    wanted = [c for c in coins if c["bring"]]
    if not wanted:
        return ["  coins: nothing to bring"]
    value = sum(c["coin"] * c["bring"] for c in wanted)
    return ["  coins: " + ", ".join(f"{c['bring']} x {format_cents(c['coin'])}"
                                    for c in wanted) + f" ({format_cents(value)})"]


def round_text(data: dict[str, Any]) -> str:
    """The pick list as the operator reads it before driving out."""
    lines: list[str] = []
    for m in data["machines"]:
        lines.append(f"{m['machine']} ({'online' if m['online'] else 'OFFLINE'})")
        if m.get("problem"):
            lines.append(f"  {m['problem']}")
            continue
        wanted = [s for s in m["slots"] if s["bring"]]
        if wanted:
            lines += _table([("SLOT", "PRODUCT", "STOCK", "MIN", "BRING")] + [
                (s["slot"], s["productName"], f"{s['amountAvailable']}/{s['capacity']}",
                 str(s["minLevel"]), str(s["bring"]) +
                 (" LOW" if s["amountAvailable"] <= s["minLevel"] else ""))
                for s in wanted])
        else:
            lines.append("  slots: nothing to bring")
        lines += _coin_lines(m["coins"])
        lines.append("")
    total = data["total"]
    lines.append(f"ROUND: {len(data['machines'])} machines")
    wanted_products = [p for p in total["products"] if p["bring"]]
    if wanted_products:
        lines += _table([("PRODUCT", "BRING")] +
                        [(p["productName"], str(p["bring"])) for p in wanted_products])
    else:
        lines.append("  products: nothing to bring")
    lines += _coin_lines(total["coins"])
    return "\n".join(lines)


async def print_picklist(cfg: TelemetryConfig, *, as_json: bool) -> int:
    """``--picklist``: the round's pick list on stdout, a table or JSON."""
    print(await snapshot(cfg, draw=lambda picture: _text(picture, as_json)))
    return 0


def _text(picture: FleetPicture, as_json: bool) -> str:
    data = round_json([machine_list(record) for record in picture.sorted()])
    return json.dumps(data, indent=2, ensure_ascii=True) if as_json else round_text(data)
