"""The money and goods flows: coins in, vend, payout, buy, reset, deposit.

One rulebook for the front panel and the API: both call these methods.  Each
physical action holds the mechanism lock (the machine does one thing at a
time), is journaled before the hardware is told (controller.journal), runs
as a supervised task so a dropped HTTP client cannot cancel a motor half-way,
and reports back to the FSM with triggers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from controller import journal, money
from controller.config import Config
from controller.errors import (
    CreditLimit,
    DepositTimeout,
    HardwareError,
    MachineBusy,
    OutOfService,
    OutOfStock,
    ValidationError,
    VendingError,
)
from controller.events import EventStream
from controller.fsm import READY, MachineModel, State
from controller.journal import PANEL, VendTicket, user_holder
from controller.store import Store
from controller.store.db import append_event
from drivers.base import CoinBatch, CoinEvent, CoinEventKind, Devices, VendOutcome, VendResult

log = logging.getLogger(__name__)
NOT_SERVING = {State.OUT_OF_SERVICE: "out of service", State.SERVICE: "in service mode",
               State.BOOTING: "starting"}
T = TypeVar("T")


@dataclass
class DepositClaim:
    """An API buyer waiting for a coin of one value to be inserted."""

    user_id: int
    coin: int
    done: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop()
                                      .create_future())


@dataclass(frozen=True)
class SaleResult:
    product: dict[str, Any]
    delivered: int
    failure: VendResult | None
    change: list[int]
    unpaid: int
    credit: int
    spent: int = 0  # the prices charged for the delivered units


class SalesMixin:
    """Flows of the Machine; the attributes below are set by Machine."""

    config: Config
    store: Store
    devices: Devices
    model: MachineModel
    stream: EventStream
    _mechanism: asyncio.Lock
    _claims: list[DepositClaim]
    _coin_waiters: list[asyncio.Future[None]]

    # provided by Machine
    def spawn(self, coro: Awaitable[T], name: str) -> asyncio.Task[T]:
        raise NotImplementedError

    async def fault(self, reason: str, *, device: str = "machine") -> None:
        raise NotImplementedError

    def acceptor_dirty(self) -> None:
        raise NotImplementedError

    def panel_refresh(self) -> None:
        raise NotImplementedError

    def payback_possible(self) -> bool:
        raise NotImplementedError

    def _flash(self, line1: str, line2: str = "") -> None:
        raise NotImplementedError

    async def _fire(self, trigger: str) -> None:
        await self.model.fire(trigger)

    async def _publish_credit(self, holder: str) -> None:
        credit = await self.store.run(lambda db: journal.find_credit(db, holder))
        if credit is not None:
            self.stream.publish("credit", holder=holder, cents=credit)

    async def _refresh_credit(self) -> None:
        credit = await self.store.run(lambda db: journal.get_credit(db, PANEL))
        self.model.panel_credit_cents = credit
        if self.model.state in READY:
            await self._fire("credit_changed")
        self.acceptor_dirty()
        self.panel_refresh()

    # --- coins in -----------------------------------------------------------

    async def on_coins(self, batch: CoinBatch) -> None:
        """The acceptor's handler: credit every coin once, with its counter."""
        device = self.devices.acceptor.name
        holders: list[tuple[str, int, str]] = []
        credited: list[DepositClaim] = []

        def apply(db: Any) -> None:
            claims = list(self._claims)
            for event in batch.events:
                if event.kind is CoinEventKind.CREDIT:
                    claim = next((c for c in claims if c.coin == event.value_cents
                                  and not c.done.done()
                                  and journal.find_credit(db, user_holder(c.user_id)) is not None),
                                 None)
                    holder = user_holder(claim.user_id) if claim else PANEL
                    if claim is not None:
                        claims.remove(claim)
                        credited.append(claim)
                    route = journal.credit_coin(db, event.value_cents, holder)
                    holders.append((holder, event.value_cents, route))
                else:
                    append_event(db, f"acceptor_{event.kind.value}", code=event.code,
                                         position=event.position)
            if batch.counter is not None:
                journal.set_device_counter(db, device, batch.counter)

        await self.store.tx(apply)
        for holder, coin, route in holders:
            self.stream.publish("coin", coin=coin, holder=holder,
                                route="hopper" if route == "payout" else "cashbox")
        for holder in dict.fromkeys(h for h, _c, _r in holders):
            await self._publish_credit(holder)
        if holders:
            self.stream.publish("inventory")
            await self._refresh_credit()
        for claim in credited:
            deposit = await self.store.run(
                lambda db, c=claim: journal.get_credit(db, user_holder(c.user_id)))  # type: ignore[misc]
            if not claim.done.done():
                claim.done.set_result(deposit)
        for waiter in self._coin_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._coin_waiters.clear()
        await self._acceptor_status_events(batch)

    def _say_coin_refused(self, event: CoinEvent) -> None:
        """Tell the customer at the panel why a coin came back."""
        if event.kind is CoinEventKind.REJECTED:
            self._flash("COIN REFUSED", "TRY ANOTHER COIN")
        elif self.model.state not in READY:
            self._flash("COIN REFUSED", "PLEASE WAIT")
        elif self.model.panel_credit_cents + max(event.value_cents, 5) \
                > self.config.machine.max_credit_cents:
            self._flash("MAX CREDIT",
                        money.format_cents(self.config.machine.max_credit_cents))
        else:
            self._flash("COIN REFUSED", "USE EXACT CHANGE")

    async def _acceptor_status_events(self, batch: CoinBatch) -> None:
        for event in batch.events:
            if event.kind in (CoinEventKind.INHIBITED, CoinEventKind.REJECTED) \
                    and not self._claims:
                self._say_coin_refused(event)
            if event.kind is CoinEventKind.DEVICE_BACK:
                self.stream.publish("device", device="acceptor", ok=True,
                                    error=None)
            if event.kind is CoinEventKind.DEVICE_LOST:
                self.stream.publish("device", device="acceptor", ok=False,
                                    error="not answering")
                await self.fault("coin acceptor not answering (or refusing every poll): "
                                 "check its cable and power",
                                 device="acceptor")
            elif event.alert:
                await self._acceptor_alert(event)
            elif event.kind is CoinEventKind.EVENTS_LOST:
                # Coins may have been taken and not credited: someone must count.
                await self.fault(f"coin acceptor lost {event.code} event(s) (more than 5 "
                                 "between polls): coins may not have been credited; count "
                                 "the cash, check the acceptor, then leave service mode",
                                 device="acceptor")

    async def _acceptor_alert(self, event: CoinEvent) -> None:
        """What an operator must know of (fraud, a swallowed coin, a sensor fault)."""
        log.warning("acceptor alert: event %d (%s): %s", event.code, event.kind.value,
                    event.meaning)

        def record(db: Any) -> int:
            return append_event(db, "acceptor_alert", event=event.kind.value, code=event.code,
                                meaning=event.meaning)

        await self.store.tx(record)

    # --- the mechanism ------------------------------------------------------

    def _require_in_service(self) -> None:
        if self.model.state in NOT_SERVING:
            raise OutOfService(f"the machine is {NOT_SERVING[self.model.state]}")

    async def _exclusive(self, coro_fn: Callable[[], Awaitable[T]], name: str,
                         *, wait: bool = False, idle_only: bool = False,
                         even_out_of_service: bool = False) -> T:
        """Run one physical action under the mechanism lock, as a supervised task.

        ``idle_only``: refuse also while a customer has credit at the panel.
        ``even_out_of_service``: a payout may run out of service when the
        hoppers can still pay (the FSM then stays out of service).
        """

        def may_run() -> bool:
            if even_out_of_service and self.model.state is State.OUT_OF_SERVICE \
                    and self.payback_possible():
                return True
            self._require_in_service()
            return self.model.is_ready()

        ready = may_run()
        if not wait and (self._mechanism.locked() or not ready):
            raise MachineBusy("the machine is busy with another action")
        if idle_only and self.model.state is not State.IDLE:
            raise MachineBusy("a customer is using the machine's front panel")

        async def locked() -> T:
            async with self._mechanism:
                may_run()
                return await coro_fn()

        return await asyncio.shield(self.spawn(locked(), name))

    async def _vend_one(self, ticket: VendTicket) -> VendResult:
        """Turn the spiral for a journaled vend and settle it."""
        if self.model.state is not State.VENDING:
            await self._fire("start_vend")
        self.panel_refresh()
        try:
            result = await self.devices.spirals.vend(ticket.slot)
        except HardwareError as exc:
            result = VendResult(ticket.slot, VendOutcome.JAM_TURN, detail=str(exc))
        await self.store.tx(lambda db: journal.settle_vend(db, ticket, result.outcome.value,
                                                           result.delivered))
        self.stream.publish("vend", slot=ticket.slot, productId=ticket.product_id,
                            result="paid" if result.delivered else "failed", cents=ticket.price)
        self.stream.publish("stock", slot=ticket.slot)
        if not result.delivered:
            await self._publish_credit(ticket.holder)
        if not result.delivered:
            log.warning("vend of %s failed: %s", ticket.slot, result.outcome.value)
        return result

    async def _sell_locked(self, holder: str, product_id: int, amount: int,
                           pay_change: bool) -> SaleResult:
        product = await self.store.run(
            lambda db: journal.check_purchase(db, holder, product_id, amount))
        delivered, spent, failure = 0, 0, None
        try:
            for _ in range(amount):
                try:
                    ticket = await self.store.tx(
                        lambda db: journal.reserve_vend(db, holder, product_id))
                except VendingError:
                    if not delivered:
                        raise
                    break  # what was delivered stays sold; the rest is not charged
                await self._publish_credit(holder)
                result = await self._vend_one(ticket)
                if not result.delivered:
                    failure = result
                    break
                delivered += 1
                spent += ticket.price
            change: list[int] = []
            unpaid = 0
            if pay_change and delivered:
                change, unpaid = await self._pay_locked(holder, "change")
        finally:
            await self._end_action()
        after = await self.store.run(lambda db: journal.product_row(db, product["id"]))
        credit = await self.store.run(lambda db: journal.get_credit(db, holder))
        return SaleResult(journal.product_json(after), delivered, failure, change, unpaid,
                          credit, spent)

    async def _end_action(self) -> None:
        """After a vend or payout, also one a fault ended: the panel credit as stored."""
        self.model.panel_credit_cents = await self.store.run(
            lambda db: journal.get_credit(db, PANEL))
        if self.model.state in (State.VENDING, State.PAYING):
            await self._fire("finished")
        self.acceptor_dirty()
        self.panel_refresh()

    async def _pay_locked(self, holder: str, reason: str) -> tuple[list[int], int]:
        """Pay the holder's whole credit through the hoppers (journaled)."""
        ticket = await self.store.tx(lambda db: journal.open_payout(db, holder, reason))
        if ticket is None:
            return [], 0
        await self._publish_credit(holder)
        if self.model.state is not State.PAYING:
            await self._fire("start_payout")
        self.panel_refresh()
        plan, used = ticket.plan, set[int]()
        failures: dict[int, str] = {}
        while todo := sorted((c for c in plan if c not in used and plan[c] > 0), reverse=True):
            coin = todo[0]
            used.add(coin)
            failed, certain = await self._dispense(ticket.payout_id, coin, plan[coin])
            if failed:
                # pay what is still owed from the other hoppers, then report the fault;
                # not when this hopper may have paid more than it counted
                failures[coin] = failed
                if not certain:
                    break
                replanned = await self.store.tx(
                    lambda db: journal.replan_payout(db, ticket.payout_id, used))
                if replanned is None:
                    break
                plan = replanned
        coins, unpaid = await self.store.tx(lambda db: journal.settle_payout(db,
                                                                             ticket.payout_id))
        self.stream.publish("payout", holder=holder, coins=coins, unpaid=unpaid)
        if coins:
            self.stream.publish("inventory")
        if unpaid:
            await self._publish_credit(holder)
        for coin, reason in failures.items():
            await self.fault(reason, device=f"hopper:{coin}")
        return coins, unpaid

    async def _dispense(self, payout_id: int, coin: int, count: int) -> tuple[str | None, bool]:
        """Pay ``count`` coins from one hopper: a fault reason when it paid short
        (or None), and whether the coins it counted are certainly all it paid."""
        hopper = self.devices.hoppers[coin]
        try:
            status = await hopper.status()
        except HardwareError as exc:
            self.stream.publish("device", device=f"hopper:{coin}", ok=False, error=str(exc))
            return f"hopper {coin}c not answering ({exc}): check it", True
        await self.store.tx(lambda db: journal.record_hopper_counter(
            db, payout_id, coin, status.counter, status.paid, status.unpaid))

        async def on_paid(total: int) -> None:
            await self.store.tx(lambda db: journal.record_coins_paid(db, payout_id, coin, total))

        try:
            result = await hopper.dispense(count, on_paid=on_paid)
        except HardwareError as exc:
            reason = f"hopper {coin}c refused to pay ({exc})"
            await self.store.tx(lambda db: journal.set_hopper_fault(db, coin, reason))
            return reason + ": check it", True
        await on_paid(result.paid)
        if result.paid >= count:
            return None, True
        reason = f"hopper {coin}c {result.fault or 'short pay'}: paid {result.paid} of {count}"
        if not result.certain:
            reason += " or more"
        await self.store.tx(lambda db: journal.set_hopper_fault(db, coin, reason))
        return reason + "; refill or clear it, then leave service mode", result.certain

    # --- entry points -------------------------------------------------------

    async def sell(self, holder: str, product_id: int, amount: int, *,
                   pay_change: bool = True, idle_only: bool = False) -> SaleResult:
        """Vend ``amount`` units for ``holder``; charges only delivered units."""
        if amount < 1:
            raise ValidationError("amount must be at least 1", fields={"amount": "below 1"})
        return await self._exclusive(
            lambda: self._sell_locked(holder, product_id, amount, pay_change), "sell",
            idle_only=idle_only)

    async def buy(self, user_id: int, product_id: int, amount: int) -> dict[str, Any]:
        """``POST /buy``: vend physically, pay the change, deposit to 0."""
        result = await self.sell(user_holder(user_id), product_id, amount, idle_only=True)
        if result.delivered == 0:
            what = result.failure.outcome.value if result.failure else "failed"
            raise OutOfStock(f"slot {result.product['slot']} failed to vend ({what}); nothing "
                             "was charged and the deposit is kept")
        return {"totalSpent": result.spent,
                "product": result.product, "amount": result.delivered,
                "change": result.change, "deposit": result.credit}

    async def pay_back(self, holder: str, reason: str, *,
                       even_out_of_service: bool = False) -> tuple[list[int], int]:
        """Pay a holder's whole credit back (coin return, reset)."""

        async def run() -> tuple[list[int], int]:
            try:
                return await self._pay_locked(holder, reason)
            finally:
                await self._end_action()

        return await self._exclusive(run, f"payout:{reason}",
                                     even_out_of_service=even_out_of_service)

    async def reset(self, user_id: int) -> list[int]:
        """``POST /reset``: the deposit back through the hoppers."""
        coins, _unpaid = await self.pay_back(user_holder(user_id), "reset")
        return coins

    async def deposit(self, user_id: int, coin: int) -> int:
        """``POST /deposit``: claim the next coin of this value inserted at the machine."""
        money.validate_coin(coin)
        self._require_in_service()
        holder = user_holder(user_id)

        def check(db: Any) -> None:
            credit = journal.get_credit(db, holder)
            if not money.coin_acceptable(
                coin, credit, max_credit=self.config.machine.max_credit_cents,
                payout=journal.payout_inventory(db), capacity=journal.hopper_capacity(db),
            ):
                raise_credit_limit(credit, coin, self.config.machine.max_credit_cents)

        await self.store.run(check)
        claim = DepositClaim(user_id, coin)
        self._claims.append(claim)
        self.acceptor_dirty()
        try:
            await self.claim_arrives(claim)
            return await asyncio.wait_for(asyncio.shield(claim.done),
                                          self.config.machine.deposit_claim_s)
        except TimeoutError:
            raise DepositTimeout(f"no {coin} coin was inserted within "
                                 f"{self.config.machine.deposit_claim_s:g} s") from None
        finally:
            self._claims.remove(claim)
            self.acceptor_dirty()

    async def claim_arrives(self, claim: DepositClaim) -> None:
        """Hardware: the buyer walks to the machine.  The simulated machine inserts it."""


def raise_credit_limit(credit: int, coin: int, max_credit: int) -> None:
    if credit + coin > max_credit:
        raise CreditLimit(f"a {coin} coin would take the credit past the limit of "
                          f"{money.format_cents(max_credit)}")
    raise CreditLimit(f"a {coin} coin cannot be accepted: the credit could not be paid back "
                      "from the coins held")
