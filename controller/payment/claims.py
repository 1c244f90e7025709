"""Deposit claims: what one is, who brings its coin, and the pause after one that failed.

A claim holds the coin slot for everyone else while it waits (only its coin
value is accepted), so an account whose claim timed out or was cancelled with
``*`` waits ``[machine] deposit_claim_cooldown_s`` before its next claim:
one buyer cannot chain claims and hold the slot hostage.  A claim that got
its coin leaves no pause.  Kept in memory: a restart forgets the pauses,
which only lets a buyer start one claim sooner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import sqlite_utils

from controller import money
from controller.errors import CreditLimit, MachineBusy, RetryLater
from controller.store.credit import PANEL, get_credit
from controller.store.inventory import hopper_capacity, payout_inventory


@dataclass
class DepositClaim:
    """An API buyer waiting for a coin of one value to be inserted."""

    user_id: int
    coin: int
    credited: bool = False
    """Set by the transaction that credits its coin (on the store's thread)."""
    done: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop()
                                      .create_future())


class ClaimCustomer(Protocol):
    """Who brings a claimed coin to the machine (the simulated buyer; None on hardware)."""

    async def bring_coin(self, coin: int, credited: asyncio.Future[int]) -> None: ...


MAX_ACCOUNTS = 10_000
"""Pauses remembered at once; expired ones are dropped first."""


class ClaimCooldown:
    """Which accounts must wait before their next deposit claim, and until when."""

    def __init__(self, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._until: dict[int, float] = {}

    def check(self, user_id: int) -> None:
        """Refuse (``RetryLater``, 429 with ``Retry-After``) while the account must wait."""
        until = self._until.get(user_id)
        if until is None:
            return
        wait_s = until - self._clock()
        if wait_s <= 0:
            del self._until[user_id]
            return
        raise RetryLater(f"your last deposit claim ended without a coin: wait "
                         f"{wait_s:.0f} s before the next one", retry_after_s=wait_s)

    def ended_without_coin(self, user_id: int) -> None:
        """The account's claim timed out or was cancelled: it waits from now."""
        if self.cooldown_s <= 0:
            return
        now = self._clock()
        if len(self._until) >= MAX_ACCOUNTS:
            self._until = {u: t for u, t in self._until.items() if t > now}
            while len(self._until) >= MAX_ACCOUNTS:
                del self._until[next(iter(self._until))]
        self._until[user_id] = now + self.cooldown_s


def check_claim(db: sqlite_utils.Database, holder: str, coin: int, max_credit: int) -> None:
    """Refuse a claim the panel's credit or the credit limit rules out (store thread)."""
    if get_credit(db, PANEL) > 0:
        raise MachineBusy("a customer at the front panel holds credit")
    credit = get_credit(db, holder)
    if money.coin_acceptable(coin, credit, max_credit=max_credit,
                             payout=payout_inventory(db), capacity=hopper_capacity(db)):
        return
    if credit + coin > max_credit:
        raise CreditLimit(f"a {coin} coin would take the credit past the limit of "
                          f"{money.format_cents(max_credit)}")
    raise CreditLimit(f"a {coin} coin cannot be accepted: the credit could not be paid "
                      "back from the coins held")
