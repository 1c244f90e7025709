"""Paying a holder's credit through the hoppers: change, coin return, reset.

The payout is journaled (its plan fixed from the coins held) before the first
hopper is told, and each hopper's figures before its dispense with it (event
counter, last payout's figures, lifetime dispense count where it keeps one);
each coin a hopper reports paid is recorded at once; when a hopper pays
short, what is still owed is planned again from the other hoppers.  What
could not be paid goes back to the holder's credit, and each hopper that
failed is reported through the one fault path.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.fsm import MachineModel, State
from controller.store import Store, journal
from controller.store import faults as fault_rows
from controller.store.credit import find_credit
from drivers.base import Hopper
from drivers.errors import HardwareError, HopperFault

log = logging.getLogger(__name__)


class ChangePayer:
    def __init__(self, store: Store, model: MachineModel, stream: EventStream,
                 faults: FaultRegistry, changed: Callable[[], None]) -> None:
        self._store = store
        self._model = model
        self._stream = stream
        self._faults = faults
        self._changed = changed
        self.hoppers: dict[int, Hopper] = {}
        self._owed: tuple[int, int] | None = None  # (coin, count) a tube may have paid

    async def pay(self, holder: str, reason: str) -> tuple[list[int], int]:
        """Pay the holder's whole credit (journaled): the coins paid and what is unpaid."""
        ticket = await self._store.tx(lambda db: journal.open_payout(db, holder, reason))
        if ticket is None:
            return [], 0
        await self._publish_credit(holder)
        if self._model.state is not State.PAYING:
            await self._model.fire("start_payout")
        self._changed()
        self._owed = None
        failures = await self._dispense_plan(ticket)
        owed = self._owed
        if owed is not None:  # a changer that cannot say what it paid: held, never repaid
            await self._store.tx(lambda db: journal.hold_payout_owed(
                db, ticket.payout_id, owed[0], owed[1]))
        coins, unpaid = await self._store.tx(
            lambda db: journal.settle_payout(db, ticket.payout_id))
        self._stream.publish("payout", holder=holder, coins=coins, unpaid=unpaid)
        if coins:
            self._stream.publish("inventory")
        if unpaid:
            await self._publish_credit(holder)
        for coin, (why, latched) in failures.items():
            await self._faults.report(why, device=f"hopper:{coin}", latched=latched)
        return coins, unpaid

    async def _dispense_plan(self, ticket: journal.PayoutTicket) -> dict[int, tuple[str, bool]]:
        """Each hopper of the plan once, largest coin first; replanned after a short pay.
        Returns the fault reason of each hopper that paid short, and whether it is
        latched (the coins it paid are not certain, or it is empty or jammed)."""
        plan, used = ticket.plan, set[int]()
        failures: dict[int, tuple[str, bool]] = {}
        while todo := sorted((c for c in plan if c not in used and plan[c] > 0), reverse=True):
            coin = todo[0]
            used.add(coin)
            failed, certain, latched = await self._dispense(ticket.payout_id, coin, plan[coin])
            if not failed:
                continue
            # pay what is still owed from the other hoppers, then report the fault;
            # not when this hopper may have paid more than it counted
            failures[coin] = (failed, latched)
            if not certain:
                break
            replanned = await self._store.tx(
                lambda db: journal.replan_payout(db, ticket.payout_id, used))
            if replanned is None:
                break
            plan = replanned
        return failures

    async def _dispense(self, payout_id: int, coin: int,
                        count: int) -> tuple[str | None, bool, bool]:
        """Pay ``count`` coins from one hopper: a fault reason when it paid short
        (or None), whether the coins it counted are certainly all it paid, and
        whether the fault is latched.  Not answering, or refusing the dispense
        (nothing paid), is transient: it heals when the hopper answers again
        (``controller.payment.hopper_watch``).  A short pay (empty, jammed: the coins
        counted are wrong) or an uncertain one is latched for an operator."""
        hopper = self.hoppers[coin]
        try:
            await hopper.prepare_payout()
        except HopperFault as exc:  # answers, but cannot pay now (its coin exit is blocked)
            return f"hopper {coin}c cannot pay ({exc})", True, False
        except HardwareError:
            pass  # not answering: the status below says so
        try:
            status = await hopper.status()
            lifetime = await hopper.dispense_count()
        except HardwareError as exc:
            self._stream.publish("device", device=f"hopper:{coin}", ok=False, error=str(exc))
            return f"hopper {coin}c not answering ({exc}): check it", True, False
        await self._store.tx(lambda db: journal.record_hopper_counter(
            db, payout_id, coin, status.counter, status.paid, status.unpaid, lifetime))

        recorded = 0

        async def on_paid(total: int) -> None:
            # One transaction per coin, however many one status poll saw: the journal
            # moves coin by coin, the same on a slow poll as on a fast one.
            nonlocal recorded
            while recorded < total:
                recorded += 1
                await self._store.tx(functools.partial(
                    journal.record_coins_paid, payout_id=payout_id, coin=coin, paid_total=recorded))

        try:
            result = await hopper.dispense(count, on_paid=on_paid)
        except HardwareError as exc:
            reason = f"hopper {coin}c refused to pay ({exc})"
            await self._store.tx(lambda db: fault_rows.set_hopper_fault(db, coin, reason,
                                                                        latched=False))
            return reason + ": check it", True, False
        await on_paid(result.paid)
        if result.paid >= count:
            return None, True, False
        reason = f"hopper {coin}c {result.fault or 'short pay'}: paid {result.paid} of {count}"
        if not result.certain:
            reason += " or more"
            if hopper.counter_is_coin_count:
                self._owed = (coin, count - result.paid)
        await self._store.tx(lambda db: fault_rows.set_hopper_fault(db, coin, reason))
        return (reason + "; refill or clear it, then leave service mode", result.certain,
                True)

    async def _publish_credit(self, holder: str) -> None:
        cents = await self._store.run(lambda db: find_credit(db, holder))
        if cents is not None:
            self._stream.publish("credit", holder=holder, cents=cents)
