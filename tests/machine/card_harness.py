"""A simulated machine with an MDB card reader, and the checks every card test makes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from controller.config import Config
from controller.config.mdb import CashlessConfig
from controller.machine import Machine
from tests.machine.harness import start_machine


def card_config(**cashless: Any) -> Config:
    return replace(Config(), cashless=CashlessConfig(kind="mdb", **{"vend_timeout_s": 5.0,
                                                                     **cashless}))


async def start_card_machine(path: Path, **cashless: Any) -> Machine:
    machine = await start_machine(path, card_config(**cashless))
    await until(lambda: reader_state(machine) == "enabled")
    return machine


def reader_state(machine: Machine) -> str | None:
    desk = machine.card_desk
    return desk.reader.reader_state if desk is not None and desk.reader.ready else None


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def card_books(machine: Machine) -> dict[str, Any]:
    """The machine's view of card vends: delivered prices, open and refunds owed."""

    def read(db: Any) -> dict[str, Any]:
        delivered = [int(r[0]) for r in db.conn.execute(
            "SELECT price FROM vends WHERE holder LIKE 'medium:%' AND status = 'delivered'")]
        unknown = [int(r[0]) for r in db.conn.execute(
            "SELECT price FROM vends WHERE holder LIKE 'medium:%' AND status = 'unknown'")]
        open_rows = db.conn.execute("SELECT COUNT(*) FROM card_vends WHERE status IN "
                                    "('requested', 'approved', 'vended')").fetchone()[0]
        owed = db.conn.execute("SELECT COALESCE(SUM(refund_owed), 0) FROM card_vends"
                               ).fetchone()[0]
        charged = db.conn.execute("SELECT COALESCE(SUM(charged), 0) FROM card_vends"
                                  ).fetchone()[0]
        return {"delivered": delivered, "unknown": unknown, "open": int(open_rows),
                "owed": int(owed), "charged": int(charged)}

    return dict(await machine.store.run(read))


async def check_card_charges(machine: Machine) -> dict[str, Any]:
    """Checked from outside: the card paid at most for what was delivered, never
    twice for one vend; whatever it paid beyond that is a refund owed on record."""
    books = await card_books(machine)
    assert machine.sim is not None
    charged = machine.sim.state()["card"]["charged"]
    assert len(charged) <= len(books["delivered"]) + (1 if books["owed"] else 0), (charged, books)
    assert sum(charged) <= sum(books["delivered"]) + books["owed"], (charged, books)
    assert sum(charged) == books["charged"] or books["open"], (charged, books)
    return books
