"""A test double of ``controller.machine.Machine`` for the API tests (not for production).

It keeps the money in the real store with the simplest possible rules, so
the API can be tested before (and independently of) the real machine.  Every
hook a test can pull to force an error (``busy``, ``out_of_service``,
``deposit_times_out``) lives here, not in the real machine.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from controller.accounts.service import AccountService
from controller.catalog.service import ProductService
from controller.config import Config
from controller.errors import (
    CreditLimit,
    DepositTimeout,
    InsufficientFunds,
    MachineBusy,
    OutOfService,
    OutOfStock,
    ValidationError,
)
from controller.events import EventStream
from controller.money import coin_list, require_change
from controller.ops.round_report import picklist, sales_report
from controller.store import Store
from controller.store.db import seed
from controller.store.products import get_product


class FakeSim:
    """The sim-control side of the double."""

    def __init__(self) -> None:
        self.tray: list[str] = []
        self.returned: list[int] = []
        self.faults: dict[str, str] = {}

    async def insert_coin(self, coin: int) -> dict[str, Any]:
        self.returned.append(coin)
        return {"accepted": False, "coin": coin}

    async def press(self, keys: str) -> dict[str, Any]:
        return {"keys": keys, "display": ["HELLO", ""]}

    def state(self) -> dict[str, Any]:
        return {"display": ["HELLO", ""], "tray": list(self.tray),
                "returned": list(self.returned), "state": "idle"}

    async def take_tray(self) -> dict[str, Any]:
        taken = {"tray": self.tray, "returned": self.returned}
        self.tray, self.returned = [], []
        return taken

    async def inject_fault(self, device: str, fault: str) -> dict[str, Any]:
        if not (device == "acceptor" or device.startswith(("slot:", "hopper:"))):
            raise ValidationError(f"no device {device!r}", fields={"device": "unknown"})
        self.faults[device] = fault
        return {"device": device, "fault": fault}

    def fault_menu(self) -> dict[str, list[str]]:
        return {"acceptor": ["jam"], **{f"hopper:{c}": ["empty"] for c in (5, 10, 20, 50, 100)},
                "slot": ["jam"]}


class FakeMachine:
    """Deposits, purchases and maintenance over the real store, without hardware."""

    def __init__(self, state_dir: Path, *, config: Config | None = None,
                 simulated: bool = True) -> None:
        self.state_dir = state_dir
        self.config = config or Config()
        self.simulated = simulated
        self.store = Store(state_dir / "vending.db")
        self.stream = EventStream()
        self.sim = FakeSim()
        self.stream = EventStream()
        self.busy = False
        self.out_of_service = False
        self.deposit_times_out = False
        self.stock_calls: list[tuple[dict[str, Any] | None, str]] = []
        self._quiet = asyncio.Lock()
        self.products = ProductService(self.store, self._quiet, self._stock_changed,
                                       self.stream)
        self.accounts = AccountService(self.store, self._quiet, lambda user_id: False,
                                       self.stream)

    async def start(self) -> None:
        await self.store.start()
        slots = [(code, self.config.slots.capacity) for code in self.config.slots.codes]
        hoppers = self.config.hopper_capacity
        fill = self.config.sim.hopper_fill
        await self.store.run(lambda db: seed(db.conn, slots=slots, hoppers=hoppers,
                                             hopper_fill=fill))

    async def close(self) -> None:
        await self.store.close()

    def _check(self) -> None:
        if self.out_of_service:
            raise OutOfService("out of service (test)")
        if self.busy:
            raise MachineBusy()

    async def deposit(self, user_id: int, coin: int) -> int:
        self._check()
        if self.deposit_times_out:
            raise DepositTimeout()
        limit = self.config.machine.max_credit_cents

        def add(db: sqlite_utils.Database) -> int:
            row = db.conn.execute("SELECT deposit FROM users WHERE id = ?", (user_id,)).fetchone()
            if row["deposit"] + coin > limit:
                raise CreditLimit()
            db.conn.execute("UPDATE users SET deposit = deposit + ? WHERE id = ?", (coin, user_id))
            return int(row["deposit"]) + coin

        return await self.store.tx(add)

    async def buy(self, user_id: int, product_id: int, amount: int) -> dict[str, Any]:
        self._check()

        def sell(db: sqlite_utils.Database) -> dict[str, Any]:
            product = get_product(db, product_id)
            deposit = int(db.conn.execute("SELECT deposit FROM users WHERE id = ?",
                                          (user_id,)).fetchone()[0])
            if product["amountAvailable"] < amount:
                raise OutOfStock()
            total = product["cost"] * amount
            if total > deposit:
                raise InsufficientFunds()
            change = coin_list(require_change(deposit - total, self._payout(db)))
            db.conn.execute("UPDATE products SET amount_available = amount_available - ? "
                            "WHERE id = ?", (amount, product_id))
            db.conn.execute("UPDATE users SET deposit = 0 WHERE id = ?", (user_id,))
            return {"totalSpent": total, "product": get_product(db, product_id),
                    "amount": amount, "change": change, "deposit": 0}

        return await self.store.tx(sell)

    async def reset(self, user_id: int) -> list[int]:
        self._check()

        def pay_back(db: sqlite_utils.Database) -> list[int]:
            deposit = int(db.conn.execute("SELECT deposit FROM users WHERE id = ?",
                                          (user_id,)).fetchone()[0])
            change = coin_list(require_change(deposit, self._payout(db)))
            db.conn.execute("UPDATE users SET deposit = 0 WHERE id = ?", (user_id,))
            return change

        return await self.store.tx(pay_back)

    @staticmethod
    def _payout(db: sqlite_utils.Database) -> dict[int, int]:
        return {r["coin"]: r["payout"] for r in db.conn.execute("SELECT coin, payout FROM coins")}

    def _stock_changed(self, product: dict[str, Any] | None, slot: str) -> None:
        self.stock_calls.append((product, slot))

    async def state_json(self) -> dict[str, Any]:
        coins = await self.store.run(lambda db: [dict(r) for r in db.conn.execute(
            "SELECT coin, payout, capacity, cashbox FROM coins")])
        return {"state": "idle", "faults": [], "panelCredit": 0, "coins": coins, "slots": []}

    async def set_hopper(self, coin: int, payout: int) -> dict[str, Any]:
        self._check()
        await self.store.tx(lambda db: db.conn.execute(
            "UPDATE coins SET payout = ? WHERE coin = ?", (payout, coin)))
        coins = await self.store.run(lambda db: [
            {**dict(r), "fault": None} for r in db.conn.execute(
                "SELECT coin, payout, capacity, cashbox FROM coins ORDER BY coin")])
        return {**next(c for c in coins if c["coin"] == coin), "coins": coins}

    async def collect_cashbox(self) -> int:
        self._check()

        def collect(db: sqlite_utils.Database) -> int:
            total = sum(r["coin"] * r["cashbox"] for r in db.conn.execute("SELECT * FROM coins"))
            db.conn.execute("UPDATE coins SET cashbox = 0")
            return int(total)

        return await self.store.tx(collect)

    async def set_service(self, enabled: bool) -> dict[str, Any]:
        return {"state": "service" if enabled else "idle"}

    async def events(self, after: int, limit: int) -> list[dict[str, Any]]:
        return await self.store.run(lambda db: [
            {"id": r["id"], "ts": r["ts"], "kind": r["kind"]} for r in db.conn.execute(
                "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit))])

    async def coin_inventory(self) -> list[dict[str, Any]]:
        return await self.store.run(lambda db: [dict(r) for r in db.conn.execute(
            "SELECT coin, payout, capacity, cashbox FROM coins ORDER BY coin")])

    async def last_event_id(self) -> int:
        return int(await self.store.run(lambda db: db.conn.execute(
            "SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]))

    async def credit_outstanding(self) -> int:
        return int(await self.store.run(lambda db: db.conn.execute(
            "SELECT COALESCE(SUM(deposit), 0) FROM users").fetchone()[0]))

    async def audit_text(self) -> str:
        return "DXS*RPV0000001*VA*V0/6*1\r\nDXE*1*1\r\n"

    async def sales_report(self, days: int) -> dict[str, Any]:
        return await self.store.run(lambda db: sales_report(db, time.time(), days))

    async def picklist(self) -> dict[str, Any]:
        return await self.store.run(picklist)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "state": "out_of_service" if self.out_of_service else "idle"}
