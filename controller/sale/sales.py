"""The sale: credit, vend, change; the one rulebook for the front panel and the API.

A sale checks stock, credit and change before anything moves, journals each
unit (price out of the credit, one unit out of stock) before the spiral
turns, settles it by what the drop sensor saw (a failed vend charges nothing
and puts the slot out of order), and pays the change through the hoppers
(``controller.sale.payout``).  Every step runs under the mechanism lock as a
supervised task (``controller.sale.mechanism``), so the machine does one thing at
a time and a dropped HTTP client cannot stop a motor half-way.

Money comes from a holder's stored credit (coins at the panel, an API
buyer's deposit) or from a payment medium that holds it itself (a card
reader, ``controller.sale.medium``): both go through ``_vend_one``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from controller.errors import OutOfStock, ValidationError, VendingError
from controller.events import EventStream
from controller.fsm import READY, MachineModel, State
from controller.sale.card import CardVends
from controller.sale.mechanism import Mechanism
from controller.sale.medium import PaymentMedium
from controller.sale.payout import ChangePayer
from controller.store import Store, journal
from controller.store.credit import PANEL as PANEL
from controller.store.credit import find_credit, get_credit, user_holder
from controller.store.products import product_in_slot, product_json, product_row
from drivers.base import SpiralMatrix, VendOutcome, VendResult
from drivers.errors import HardwareError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaleResult:
    product: dict[str, Any]
    delivered: int
    failure: VendResult | None
    change: list[int]
    unpaid: int
    credit: int
    spent: int = 0  # the prices charged for the delivered units


class Sales:
    def __init__(self, store: Store, model: MachineModel, stream: EventStream,
                 mechanism: Mechanism, payer: ChangePayer, changed: Callable[[], None], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock  # the wall clock a sale is dated by (the sales book's hours)
        self._model = model
        self._stream = stream
        self._mechanism = mechanism
        self._payer = payer
        self._changed = changed  # the acceptor and the panel follow the machine
        self.spirals: SpiralMatrix | None = None
        self.on_slot_fault: Callable[[str, str], Awaitable[object]] | None = None  # (slot, why)
        self.card_vends = CardVends(store, stream)  # the card's side of a card sale

    # --- entry points ---------------------------------------------------------

    async def sell(self, holder: str, product_id: int, amount: int, *,
                   idle_only: bool = False) -> SaleResult:
        """Vend ``amount`` units for ``holder``; charges only delivered units."""
        if amount < 1:
            raise ValidationError("amount must be at least 1", fields={"amount": "below 1"})
        return await self._mechanism.exclusive(
            lambda: self._sell_locked(holder, product_id, amount), "sell", idle_only=idle_only)

    async def buy(self, user_id: int, product_id: int, amount: int) -> dict[str, Any]:
        """``POST /buy``: vend physically, pay the change, deposit to 0."""
        result = await self.sell(user_holder(user_id), product_id, amount, idle_only=True)
        if result.delivered == 0:
            what = result.failure.outcome.value if result.failure else "failed"
            raise OutOfStock(f"slot {result.product['slot']} failed to vend ({what}); nothing "
                             "was charged and the deposit is kept")
        return {"totalSpent": result.spent, "product": result.product,
                "amount": result.delivered, "change": result.change, "deposit": result.credit}

    async def pay_back(self, holder: str, reason: str, *,
                       even_out_of_service: bool = False) -> tuple[list[int], int]:
        """Pay a holder's whole credit back (coin return, reset)."""

        async def run() -> tuple[list[int], int]:
            try:
                return await self._payer.pay(holder, reason)
            finally:
                await self.end_action()

        return await self._mechanism.exclusive(run, f"payout:{reason}",
                                               even_out_of_service=even_out_of_service)

    async def reset(self, user_id: int) -> list[int]:
        """``POST /reset``: the deposit back through the hoppers."""
        coins, _unpaid = await self.pay_back(user_holder(user_id), "reset")
        return coins

    async def sell_with(self, medium: PaymentMedium, product_id: int) -> SaleResult:
        """One unit paid by a medium that holds the money (a card reader at the panel,
        beside any coin credit, which it leaves alone)."""
        return await self._mechanism.exclusive(
            lambda: self._sell_with_locked(medium, product_id), f"sell:{medium.name}")

    # --- panel credit ---------------------------------------------------------

    async def product_in_slot(self, slot: str) -> dict[str, Any] | None:
        """The product that sits in ``slot``, or None: the front panel's lookup."""
        return await self._store.run(lambda db: product_in_slot(db, slot))

    async def credit_of(self, holder: str) -> int:
        return await self._store.run(lambda db: get_credit(db, holder))

    async def refresh_panel_credit(self) -> None:
        """The panel credit as stored: the FSM and whoever shows it follow."""
        self._model.panel_credit_cents = await self.credit_of(PANEL)
        if self._model.state in READY:
            await self._model.fire("credit_changed")
        self._changed()

    async def end_action(self) -> None:
        """After a vend or payout, also one a fault ended: the panel credit as stored."""
        self._model.panel_credit_cents = await self.credit_of(PANEL)
        if self._model.state in (State.VENDING, State.PAYING):
            await self._model.fire("finished")
        self._changed()

    # --- the sale -------------------------------------------------------------

    async def _sell_locked(self, holder: str, product_id: int, amount: int) -> SaleResult:
        product = await self._store.run(
            lambda db: journal.check_purchase(db, holder, product_id, amount))
        delivered, spent, failure = 0, 0, None
        change: list[int] = []
        unpaid = 0
        try:
            for _ in range(amount):
                try:
                    ticket = await self._store.tx(
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
            if delivered:
                change, unpaid = await self._payer.pay(holder, "change")
        finally:
            await self.end_action()
        after = await self._store.run(lambda db: product_row(db, product["id"]))
        credit = await self.credit_of(holder)
        return SaleResult(product_json(after), delivered, failure, change, unpaid, credit, spent)

    async def _sell_with_locked(self, medium: PaymentMedium, product_id: int) -> SaleResult:
        try:
            spent, result = await self.card_vends.sell(medium, product_id, self._vend_one)
        finally:
            await self.end_action()
        after = await self._store.run(lambda db: product_row(db, product_id))
        delivered = result is not None and result.delivered
        return SaleResult(product_json(after), int(delivered),
                          None if delivered else result, [], 0, 0, spent)

    async def _vend_one(self, ticket: journal.VendTicket,
                        also: Callable[[Any, bool], None] | None = None) -> VendResult:
        """Turn the spiral for a journaled vend and settle it, whatever happens.

        A hardware error is a failed vend; any other error is settled as one too
        (nothing charged, slot out of order) and then raised, so no vend stays
        pending until the next boot.  ``also(db, delivered)`` runs in the
        settling transaction (a card vend records its outcome there).
        """
        if self._model.state is not State.VENDING:
            await self._model.fire("start_vend")
        self._changed()
        error: Exception | None = None
        try:
            assert self.spirals is not None
            result = await self.spirals.vend(ticket.slot)
        except Exception as exc:
            if not isinstance(exc, HardwareError):
                error = exc
            result = VendResult(ticket.slot, VendOutcome.JAM_TURN, detail=repr(exc))
        sold_at = self._clock()

        def settle(db: Any) -> None:
            journal.settle_vend(db, ticket, result.outcome.value, result.delivered, sold_at)
            if also is not None:
                also(db, result.delivered)

        await self._store.tx(settle)
        self._publish_vend(ticket, result)
        if not result.delivered:
            log.warning("vend of %s failed: %s", ticket.slot, result.outcome.value)
            await self._publish_credit(ticket.holder)
            if self.on_slot_fault is not None:
                await self.on_slot_fault(ticket.slot, result.outcome.value)
        if error is not None:
            raise error
        return result

    def _publish_vend(self, ticket: journal.VendTicket, result: VendResult) -> None:
        self._stream.publish("vend", slot=ticket.slot, productId=ticket.product_id,
                             result="paid" if result.delivered else "failed", cents=ticket.price)
        self._stream.publish("stock", slot=ticket.slot)

    async def _publish_credit(self, holder: str) -> None:
        cents = await self._store.run(lambda db: find_credit(db, holder))
        if cents is not None:
            self._stream.publish("credit", holder=holder, cents=cents)
