"""Boot recovery of a payout cut short, against a hopper's reported status.

A ccTalk hopper moves its dispense counter for every dispense it receives,
also one it refuses; recovery must tell a refused dispense (nothing paid) from
a taken one with the figures journaled before the dispense.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from controller import money
from controller.recovery import recover
from controller.store import Store, credit, inventory, journal
from controller.store.db import seed
from drivers.base import CoinPaidHook, Hopper, HopperStatus, PayoutResult

pytestmark = pytest.mark.asyncio


class StatusOnlyHopper(Hopper):
    """Answers status with fixed figures; recovery never dispenses."""

    def __init__(self, status: HopperStatus) -> None:
        self.name, self.coin_cents, self._status = "hopper:50", 50, status

    async def start(self) -> None: ...

    async def status(self) -> HopperStatus:
        return self._status

    async def dispense(self, count: int, *, on_paid: CoinPaidHook | None = None) -> PayoutResult:
        raise AssertionError("recovery must never dispense")

    async def emergency_stop(self) -> HopperStatus:
        return self._status

    async def close(self) -> None: ...


async def cut_payout(tmp_path: Path, before: tuple[int, int] | None) -> Store:
    """A panel credit of 100 being paid as two 50s, cut after the journal row."""
    store = Store(tmp_path / "v.db")
    await store.start()
    await store.run(lambda db: seed(db.conn, slots=[("A1", 10)],
                                    hoppers={c: 200 for c in money.COINS_CENTS},
                                    hopper_fill=20))

    def setup(db: sqlite_utils.Database) -> None:
        inventory.credit_coin(db, 100, credit.PANEL)
        inventory.adjust_hopper(db, 100, 0)
        ticket = journal.open_payout(db, credit.PANEL, "coin_return")
        assert ticket is not None and ticket.plan == {50: 2}
        if before is None:  # a row journaled before the figures were kept
            journal.record_hopper_counter(db, ticket.payout_id, 50, 7)
        else:
            journal.record_hopper_counter(db, ticket.payout_id, 50, 7,
                                          *before)

    await store.tx(setup)
    return store


@pytest.mark.parametrize(("before", "after", "paid", "problem"), [
    ((3, 0), HopperStatus(8, 0, 3, 0), 0, False),  # refused: last payout's figures
    ((3, 0), HopperStatus(8, 0, 2, 0), 2, False),  # taken and paid
    ((3, 0), HopperStatus(8, 0, 1, 1), 1, False),  # taken, short paid
    ((2, 0), HopperStatus(8, 0, 2, 0), 2, False),  # a repeat of the last payout: taken
    ((3, 0), HopperStatus(7, 0, 3, 0), 0, False),  # counter unmoved: never arrived
    ((3, 0), HopperStatus(9, 0, 2, 0), 0, True),  # moved twice: cannot tell
    (None, HopperStatus(8, 0, 2, 0), 2, False),  # old row: the counter alone decides
])
async def test_recovered_payout(tmp_path: Path, before: tuple[int, int] | None,
                                after: HopperStatus, paid: int, problem: bool) -> None:
    store = await cut_payout(tmp_path, before)
    try:
        problems = await recover(store, {50: StatusOnlyHopper(after)})
        assert bool(problems) == problem, problems
        panel = await store.run(lambda db: credit.get_credit(db, credit.PANEL))
        assert panel == 100 - 50 * paid
        assert await store.run(journal.open_payouts) == []
        coins = await store.run(lambda db: dict(db.conn.execute(
            "SELECT coin, payout FROM coins").fetchall()))
        assert coins[50] == 20 - paid
    finally:
        await store.close()
