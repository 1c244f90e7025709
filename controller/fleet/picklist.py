"""``vending fleet --picklist``: what to load into the van for the whole round.

It reads every machine's retained ``inventory`` (and ``status``) from the broker,
and adds up, per machine and for the round, what fills each slot that holds a
product to its capacity and each hopper to its capacity: the same sums as
``GET /machine/picklist`` on each machine.  Printed as a table, or as JSON with
``--json``.

Whatever a broker says is checked before it is used: a machine whose
inventory is not the documented shape is listed with a note and left out of
the sums, and every name is printed with control characters escaped, so one
machine's bad message can neither stop the list nor draw on the terminal.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from controller.config import TelemetryConfig
from controller.fleet.publisher import client_options
from controller.money import COINS_CENTS, format_cents

SETTLE_S = 1.0  # no new retained message for this long: every machine has been heard
MAX_WAIT_S = 10.0
MAX_UNITS = 100_000  # a slot's or hopper's figures above this are not believed
MAX_TEXT = 64


def printable(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as text safe for a terminal: control and format characters escaped."""
    text = str(value)[:limit]
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _count(value: object, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UNITS:
        raise ValueError(f"not a count: {printable(value, 20)}")
    if positive and value == 0:
        raise ValueError("a capacity of 0")
    return value


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


def machine_list(machine_id: str, status: dict[str, Any],
                 inventory: dict[str, Any] | None) -> MachineList:
    """The pick list of one machine from its retained messages (checked)."""
    found = MachineList(printable(machine_id), bool(status.get("online")))
    if inventory is None:
        found.problem = "no inventory reported"
        return found
    try:
        found.slots = [_slot(s) for s in inventory.get("slots") or []
                       if isinstance(s, dict) and s.get("productName") is not None]
        found.coins = [_coin(c) for c in inventory.get("coins") or []
                       if isinstance(c, dict) and c.get("capacity") != 0]
    except (ValueError, KeyError, TypeError) as exc:
        found.slots, found.coins = [], []
        found.problem = f"inventory not understood ({printable(exc)}): left out"
    return found


def _slot(s: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(s.get("productName"), str) or not isinstance(s.get("slot"), str):
        raise ValueError("a slot without a code or a product name")
    if "capacity" not in s:
        raise ValueError("no slot capacity (older software)")
    capacity = _count(s["capacity"], positive=True)
    units = min(_count(s.get("amountAvailable", 0)), capacity)
    return {"slot": printable(s["slot"], 8), "productName": printable(s["productName"]),
            "amountAvailable": units, "capacity": capacity,
            "minLevel": _count(s.get("minLevel", 0)), "bring": capacity - units}


def _coin(c: dict[str, Any]) -> dict[str, Any]:
    if c.get("coin") not in COINS_CENTS or isinstance(c.get("coin"), bool):
        raise ValueError("an unknown coin")
    if "capacity" not in c:
        raise ValueError("no hopper capacity (older software)")
    capacity, payout = _count(c["capacity"]), _count(c.get("payout", 0))
    return {"coin": c["coin"], "payout": payout, "capacity": capacity,
            "bring": max(0, capacity - payout)}


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


async def collect(cfg: TelemetryConfig, *, max_wait_s: float = MAX_WAIT_S
                  ) -> list[MachineList]:
    """Every machine's retained status and inventory, read until the broker goes quiet."""
    status: dict[str, dict[str, Any]] = {}
    inventory: dict[str, dict[str, Any]] = {}
    client = aiomqtt.Client(**client_options(cfg),
                            identifier=f"vending-picklist-{uuid.uuid4().hex}",
                            clean_session=True)
    async with client:
        for leaf in ("status", "inventory"):
            await client.subscribe(f"{cfg.topic_prefix}/+/{leaf}", qos=1)
        deadline = time.monotonic() + max_wait_s
        messages = aiter(client.messages)
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(anext(messages), min(SETTLE_S, left))
            except TimeoutError:
                break
            _take(cfg.topic_prefix, str(message.topic), message.payload, status, inventory)
    return [machine_list(m, status.get(m, {}), inventory.get(m))
            for m in sorted(set(status) | set(inventory))]


def _take(prefix: str, topic: str, payload: Any, status: dict[str, dict[str, Any]],
          inventory: dict[str, dict[str, Any]]) -> None:
    parts = topic.split("/")
    if len(parts) < 3 or "/".join(parts[:-2]) != prefix:
        return
    try:
        body = json.loads(payload) if payload else None
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError):
        return
    if isinstance(body, dict):
        (status if parts[-1] == "status" else inventory)[parts[-2]] = body


async def print_picklist(cfg: TelemetryConfig, *, as_json: bool) -> int:
    """``--picklist``: the round's pick list on stdout, a table or JSON."""
    data = round_json(await collect(cfg))
    print(json.dumps(data, indent=2, ensure_ascii=True) if as_json else round_text(data))
    return 0
