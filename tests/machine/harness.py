"""A simulated machine in-process, a scenario driver, a power-cut switch.

Scenarios are data: a list of ``(action, argument)`` steps run by ``run_steps``.
Actions: ``product`` (stock a slot), ``coin``, ``press``, ``fault``, ``take``,
``service``, ``refill``, ``expect`` (a dict of expectations checked against the
machine), ``wait``.  After every scenario ``check_conservation`` proves that
money and goods are accounted for and the ledger identities hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from controller.app import build_machine
from controller.config import Config
from controller.machine import Machine
from controller.ops.ledger import read_ledger
from controller.store import credit as credit_store
from controller.store import products


def sim_config(**machine: Any) -> Config:
    cfg = Config()
    return replace(cfg, machine=replace(cfg.machine, **machine)) if machine else cfg


async def start_machine(db_path: Path, config: Config | None = None) -> Machine:
    machine = build_machine(config or sim_config(), db_path)
    await machine.start()
    return machine


@contextlib.asynccontextmanager
async def running(db_path: Path, config: Config | None = None) -> AsyncIterator[Machine]:
    """A started machine on ``db_path``, closed when the block ends, however it ends."""
    machine = await start_machine(db_path, config)
    try:
        yield machine
    finally:
        await machine.close()


async def stock(machine: Machine, slot: str, name: str, cost: int, amount: int) -> int:
    """A seller stocks a slot (the simulated operator loads the spiral)."""

    def seller_id(db: Any) -> int:
        seller = db.conn.execute("SELECT id FROM users WHERE role = 'seller'").fetchone()
        if seller is None:
            db.conn.execute("INSERT INTO users (username, password_hash, role, created_at) "
                            "VALUES ('seller', 'x', 'seller', 0)")
            seller = db.conn.execute("SELECT id FROM users WHERE role = 'seller'").fetchone()
        return int(seller[0])

    user = {"id": await machine.store.tx(seller_id), "role": "seller"}
    product = await machine.products.create(user, {"productName": name, "cost": cost,
                                                   "amountAvailable": amount, "slot": slot})
    return int(product["id"])


@dataclass
class Tally:
    """What the customer side put in, for the conservation check."""

    inserted: int = 0
    stocked: dict[str, int] = field(default_factory=dict)


async def settle(machine: Machine) -> None:
    await machine.settled()


async def run_steps(machine: Machine, steps: list[tuple[str, Any]], tally: Tally) -> None:
    for action, arg in steps:
        if action == "product":
            await stock(machine, arg["slot"], arg["name"], arg["cost"], arg["amount"])
            tally.stocked[arg["slot"]] = arg["amount"]
        elif action == "coin":
            result = await machine.sim.insert_coin(arg)
            if result["result"] == "accepted":
                tally.inserted += arg
        elif action == "press":
            await machine.sim.press(arg)
        elif action == "fault":
            await machine.sim.inject_fault(*arg)
        elif action == "take":
            await machine.sim.take_tray()
        elif action == "service":
            await machine.set_service(arg)
        elif action == "refill":
            await machine.set_hopper(*arg)
        elif action == "machine_fault":  # (device, reason): the one fault path
            await machine.faults.report(arg[1], device=arg[0])
        elif action == "wait":
            await asyncio.sleep(arg)
        elif action == "expect":
            await settle(machine)
            await check_expectations(machine, arg)
        else:
            raise ValueError(f"unknown step {action}")


async def check_expectations(machine: Machine, expect: dict[str, Any]) -> None:
    state = machine.sim.state()
    credit = await machine.panel_credit()
    for key, want in expect.items():
        if key == "display":
            assert [line.strip() for line in state["display"]] == want, state["display"]
        elif key == "display_has":
            assert want in " ".join(state["display"]), state["display"]
        elif key in ("tray", "returned", "state"):
            assert state[key] == want, (key, state)
        elif key == "returned_value":
            assert sum(state["returned"]) == want, state
        elif key == "credit":
            assert credit == want, (credit, want)
        elif key == "stock":
            for slot, amount in want.items():
                row = await machine.store.run(lambda db, s=slot: products.product_in_slot(db, s))
                assert row is not None and row["amount_available"] == amount, (slot, row)
        elif key == "slot_status":
            for slot, status in want.items():
                got = await machine.store.run(lambda db, s=slot: db.conn.execute(
                    "SELECT status FROM slots WHERE code = ?", (s,)).fetchone()[0])
                assert got == status, (slot, got)
        elif key == "fault_has":
            assert any(want in r for r in machine.faults.active.values()), machine.faults.active
        else:
            raise ValueError(f"unknown expectation {key}")


async def check_conservation(machine: Machine, tally: Tally) -> None:
    """Every cent and every product accounted for; the DB matches the physical world."""
    world = machine.sim.simulated_machine.world
    assert world is not None

    def read(db: Any) -> dict[str, Any]:
        coins = {int(r[0]): (int(r[1]), int(r[2]))
                 for r in db.conn.execute("SELECT coin, payout, cashbox FROM coins")}
        counters = {r[0]: int(r[1]) for r in db.conn.execute(
            "SELECT name, lifetime FROM counters")}
        stock = {r[0]: int(r[1]) for r in db.conn.execute(
            "SELECT slot, amount_available FROM products")}
        unknown = {r[0]: int(r[1]) for r in db.conn.execute(
            "SELECT slot, COUNT(*) FROM vends WHERE status = 'unknown' GROUP BY slot")}
        delivered = {r[0]: int(r[1]) for r in db.conn.execute(
            "SELECT slot, COUNT(*) FROM vends WHERE status = 'delivered' GROUP BY slot")}
        booked = tuple(db.conn.execute(  # the sales book (GET /machine/sales) and the journal
            "SELECT (SELECT COALESCE(SUM(count), 0) FROM sales_days), "
            "(SELECT COALESCE(SUM(cents), 0) FROM sales_days), "
            "(SELECT COALESCE(SUM(count), 0) FROM sales_hours), "
            "(SELECT COUNT(*) FROM vends WHERE status = 'delivered'), "
            "(SELECT COALESCE(SUM(price), 0) FROM vends WHERE status = 'delivered')"
        ).fetchone())
        pending = db.conn.execute("SELECT (SELECT COUNT(*) FROM vends WHERE status = "
                                  "'pending') + (SELECT COUNT(*) FROM payouts WHERE status = "
                                  "'pending')").fetchone()[0]
        return {"coins": coins, "counters": counters, "stock": stock, "unknown": unknown,
                "delivered": delivered, "pending": pending, "ledger": read_ledger(db),
                "booked": booked,
                "credit": credit_store.get_credit(db, credit_store.PANEL)}

    data = await machine.store.run(read)
    ledger = data["ledger"]
    assert ledger.balanced, [(i.name, i.left, i.right) for i in ledger.identities()]
    assert data["pending"] == 0
    days, cents, hours, vends, price = data["booked"]
    assert days == hours == vends and cents == price, data["booked"]  # every sale booked once
    for coin, (payout, cashbox) in data["coins"].items():
        assert world.hoppers.get(coin, 0) == payout, (coin, world.hoppers, data["coins"])
        assert world.cashbox.get(coin, 0) == cashbox, (coin, world.cashbox, data["coins"])
    # Money of the customer: what went in is paid back, spent, or still credit.
    cup_value = sum(world.cup)
    returned_value = data["counters"]["change_paid"]
    assert cup_value >= returned_value  # the cup also holds refused coins
    assert tally.inserted == returned_value + data["counters"]["sales_value"] + data["credit"]
    # Goods: nothing sold that was not delivered, nothing lost.
    for slot, initial in tally.stocked.items():
        in_spiral = len(world.spirals.get(slot, []))
        in_tray = initial - in_spiral
        sold = data["delivered"].get(slot, 0)
        unknown = data["unknown"].get(slot, 0)
        assert sold <= in_tray <= sold + unknown, (slot, sold, in_tray, unknown)
        assert data["stock"][slot] + sold + unknown == initial, (slot, data["stock"], sold)
        assert data["stock"][slot] <= in_spiral


class PowerCut(BaseException):
    """The lights go out (a BaseException so no handler in the machine catches it)."""


class CutSwitch:
    """Cuts the power at the ``at``-th store transaction, before or after it commits.

    From the cut on, the store takes no write and the simulated world file no
    longer changes: what is on disk is what a real machine would find.
    """

    def __init__(self, machine: Machine, at: int, after_commit: bool) -> None:
        self.machine = machine
        self.at = at
        self.after_commit = after_commit
        self.count = 0
        self.cut = False
        self._tx = machine.store.tx
        self._run = machine.store.run
        machine.store.tx = self.tx  # type: ignore[method-assign]
        machine.store.run = self.run  # type: ignore[method-assign]

    def _power_off(self) -> None:
        self.cut = True
        world = self.machine.sim.simulated_machine.world
        world.path = None  # the physical state on disk is frozen at this instant
        self.machine.faults.report = self._dead  # type: ignore[method-assign]
        raise PowerCut(f"power cut at transaction {self.count}")

    async def _dead(self, *args: Any, **kwargs: Any) -> Any:
        raise PowerCut("no power")

    async def tx(self, fn: Any) -> Any:
        if self.cut:
            raise PowerCut("no power")
        self.count += 1
        if self.count == self.at and not self.after_commit:
            self._power_off()
        result = await self._tx(fn)
        if self.count == self.at and self.after_commit:
            self._power_off()
        return result

    async def run(self, fn: Any) -> Any:
        if self.cut:
            raise PowerCut("no power")
        return await self._run(fn)


async def pull_the_plug(machine: Machine) -> None:
    """Stop what is left of a machine after a power cut, writing nothing."""
    with contextlib.suppress(BaseException):
        await machine.close()

