"""``vending fleet``: the table of every machine that reports to a broker.

A plain client of the broker: it subscribes to ``PREFIX/+/status`` and
``PREFIX/+/inventory`` (both retained, so a new viewer sees every machine at
once) and prints one line per machine.  ``--once`` prints the table when the
retained messages have arrived and exits; otherwise the table is printed again
after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, TextIO

import aiomqtt

from controller.config import TelemetryConfig
from controller.fleet.publisher import client_options
from controller.money import format_cents

LOW_STOCK_UNITS = 2
SETTLE_S = 1.0  # --once: no new retained message for this long, the picture is complete
ONCE_MAX_S = 10.0
REDRAW_MIN_S = 0.5
COLUMNS = ("MACHINE", "ONLINE", "STATE", "FAULTS", "EMPTY", "LOW", "HOPPERS", "CASHBOX",
           "SALES TODAY")


@dataclass
class MachineView:
    """What the broker told about one machine."""

    machine_id: str
    status: dict[str, Any] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)

    def row(self) -> tuple[str, ...]:
        online = bool(self.status.get("online"))
        state = str(self.status.get("state", "-")) if online else "-"
        faults = ",".join(str(f.get("device")) for f in self.status.get("faults") or []) or "-"
        sales = self.status.get("salesToday") or {}
        sold = (f"{sales.get('count', 0)} / {format_cents(int(sales.get('cents', 0)))}"
                if sales else "-")
        return (self.machine_id, "yes" if online else "NO", state, faults if online else "-",
                self._slots(empty=True), self._slots(empty=False),
                self._cash("payout"), self._cash("cashbox"), sold)

    def _slots(self, *, empty: bool) -> str:
        found = []
        for slot in self.inventory.get("slots") or []:
            if slot.get("productName") is None:
                continue  # an unused slot is neither empty nor low
            units = int(slot.get("amountAvailable") or 0)
            broken = slot.get("status") != "ok"
            if empty and (units == 0 or broken):
                found.append(str(slot["slot"]) + ("!" if broken else ""))
            elif not empty and 0 < units <= LOW_STOCK_UNITS and not broken:
                found.append(str(slot["slot"]))
        return ",".join(found) or "-"

    def _cash(self, where: str) -> str:
        coins = self.inventory.get("coins")
        if not coins:
            return "-"
        return format_cents(sum(int(c["coin"]) * int(c.get(where, 0)) for c in coins))


class FleetView:
    """The machines seen so far, from the messages of one broker."""

    def __init__(self, topic_prefix: str) -> None:
        self.prefix = topic_prefix
        self.machines: dict[str, MachineView] = {}

    def take(self, topic: str, payload: bytes) -> bool:
        """Note one message; True if it changed the picture."""
        parts = topic.split("/")
        if len(parts) < 3 or "/".join(parts[:-2]) != self.prefix:
            return False
        machine_id, leaf = parts[-2], parts[-1]
        try:
            body = json.loads(payload) if payload else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return False
        if not isinstance(body, dict) or leaf not in ("status", "inventory"):
            return False
        view = self.machines.setdefault(machine_id, MachineView(machine_id))
        setattr(view, leaf, body)
        return True

    def table(self) -> str:
        rows = [COLUMNS] + [self.machines[m].row() for m in sorted(self.machines)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                 for r in rows]
        online = sum(1 for m in self.machines.values() if m.status.get("online"))
        lines.append(f"{len(self.machines)} machines, {online} online")
        return "\n".join(lines)


async def watch(cfg: TelemetryConfig, *, once: bool, out: TextIO = sys.stdout,
                once_max_s: float = ONCE_MAX_S) -> int:
    """Subscribe and print; with ``once`` print the settled table and return."""
    view = FleetView(cfg.topic_prefix)
    client = aiomqtt.Client(**client_options(cfg), identifier=f"vending-fleet-{uuid.uuid4().hex}",
                            clean_session=True)
    async with client:
        for leaf in ("status", "inventory"):
            await client.subscribe(f"{cfg.topic_prefix}/+/{leaf}", qos=1)
        if once:
            await _settle(client, view, once_max_s)
            out.write(view.table() + "\n")
            return 0
        await _follow(client, view, out)
    return 0


async def _settle(client: aiomqtt.Client, view: FleetView, max_s: float) -> None:
    deadline = time.monotonic() + max_s
    messages = aiter(client.messages)
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(anext(messages), min(SETTLE_S, left))
        except TimeoutError:
            return
        view.take(str(message.topic), _bytes(message.payload))


async def _follow(client: aiomqtt.Client, view: FleetView, out: TextIO) -> None:
    drawn = 0.0
    async for message in client.messages:
        if not view.take(str(message.topic), _bytes(message.payload)):
            continue
        if len(client.messages) and time.monotonic() - drawn < REDRAW_MIN_S:
            continue  # more is queued: draw once it is read
        drawn = time.monotonic()
        if out.isatty():
            out.write("\x1b[H\x1b[2J")
        out.write(time.strftime("%H:%M:%S ") + view.table() + "\n\n")
        with contextlib.suppress(OSError):
            out.flush()


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return b"" if payload is None else str(payload).encode()
