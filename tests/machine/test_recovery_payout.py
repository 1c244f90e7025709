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
from controller.ops.ledger import read_ledger
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
    ((3, 0), HopperStatus(7, 0, 3, 0), 0, False),  # counter unmoved: never arrived
    ((3, 0), HopperStatus(9, 0, 2, 0), 0, True),  # moved twice: cannot tell
    (None, HopperStatus(8, 0, 2, 0), 2, False),  # old row: the counter alone decides
])
async def test_recovered_payout(tmp_path: Path, before: tuple[int, int] | None,
                                after: HopperStatus, paid: int, problem: bool) -> None:
    store = await cut_payout(tmp_path, before)
    try:
        found = await recover(store, {50: StatusOnlyHopper(after)})
        assert bool(found.problems) == problem, found.problems
        assert found.faults == {}
        panel = await store.run(lambda db: credit.get_credit(db, credit.PANEL))
        assert panel == 100 - 50 * paid
        assert await store.run(journal.open_payouts) == []
        coins = await store.run(lambda db: dict(db.conn.execute(
            "SELECT coin, payout FROM coins").fetchall()))
        assert coins[50] == 20 - paid
    finally:
        await store.close()


async def test_a_repeat_of_the_last_payout_cannot_be_accounted_for(tmp_path: Path) -> None:
    """Figures that exactly repeat the last payout's (a Flow hopper moves its
    counter on a refusal too): taken or refused cannot be told.  Never booked as
    paid, never paid again, kept as change owed, the hopper latched to be counted."""
    store = await cut_payout(tmp_path, (2, 0))
    try:
        found = await recover(store, {50: StatusOnlyHopper(HopperStatus(8, 0, 2, 0))})
        reason, latched = found.faults[50]
        assert latched and "count the coins" in reason
        assert await store.run(lambda db: credit.get_credit(db, credit.PANEL)) == 0
        assert await store.run(journal.open_payouts) == []
        coins = await store.run(lambda db: dict(db.conn.execute(
            "SELECT coin, payout FROM coins").fetchall()))
        assert coins[50] == 20  # not booked as paid
        ledger = await store.run(read_ledger)
        assert ledger.balanced and ledger.outstanding == 100  # owed change
        again = await recover(store, {50: StatusOnlyHopper(HopperStatus(8, 0, 2, 0))})
        assert again.faults == {} and again.problems == []  # never paid again
    finally:
        await store.close()


async def test_a_payout_whose_hopper_does_not_answer_stays_open(tmp_path: Path) -> None:
    """Never guessed: reconciled once the hopper answers."""
    store = await cut_payout(tmp_path, (3, 0))
    try:
        found = await recover(store, {})
        assert found.left_open == 1
        assert len(await store.run(journal.open_payouts)) == 1
        assert (await store.run(read_ledger)).balanced
        found = await recover(store, {50: StatusOnlyHopper(HopperStatus(8, 0, 2, 0))})
        assert found.left_open == 0 and await store.run(journal.open_payouts) == []
        assert await store.run(lambda db: credit.get_credit(db, credit.PANEL)) == 0
    finally:
        await store.close()
