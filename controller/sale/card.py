"""The card's side of a sale: journal, ask, vend, tell, in that order.

``CardVends.sell`` is one unit paid by a payment medium that holds the money
(``controller.sale.medium``):

1. the card vend is journaled (``requested``) before the reader is asked;
2. VEND REQUEST; a denial (or no approval in time) is journaled and ends it;
3. VEND APPROVED is checked against the price (a reader that approves more
   is told FAILURE), then journaled with the unit it reserves, in one
   transaction;
4. the spiral turns (``Sales._vend_one``); its outcome is journaled with the
   vend's settlement;
5. the reader is told SUCCESS or FAILURE; once it acknowledged, the card
   vend is settled (``store.card_journal``).

A reader that stops answering leaves the card vend open: ``CardVends.reconcile`` tells
the reader the outcome when it answers again (and at boot, before the reader
is reset or enabled: a reader reset before SUCCESS counts the vend as paid).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from controller.events import EventStream
from controller.sale.medium import CardDeclined, CardUnavailable, PaymentMedium
from controller.store import Store, card_journal, journal
from drivers.base import VendResult
from drivers.errors import HardwareError

log = logging.getLogger(__name__)

VendOne = Callable[[journal.VendTicket, Callable[[Any, bool], None]], Awaitable[VendResult]]


async def tell_outcome(store: Store, stream: EventStream, medium: PaymentMedium,
                       card_id: int, item: int, delivered: bool) -> bool:
    """VEND SUCCESS or FAILURE, then the card vend settled by the reader's answer.
    False (and the card vend left open) when the reader does not answer."""
    try:
        took = await (medium.vend_succeeded(item) if delivered else medium.vend_failed(item))
    except HardwareError as exc:
        log.warning("card vend %s: reader not answering (%s); told when it is back",
                    card_id, exc)
        return False
    told = ("success" if delivered else "failure") if took else "lost"
    charged, owed = await store.tx(lambda db: card_journal.settle_card_vend(db, card_id,
                                                                            told))
    stream.publish("card", cardVend=card_id, told=told, charged=charged, refundOwed=owed)
    if owed:
        log.warning("card vend %s: the reader lost the session and kept %d cents for "
                    "nothing: refund owed", card_id, owed)
    return True


class CardVends:
    """The card vends of this process: the sale, and the reconciliation of the open
    ones, which leaves alone those a running sale still owns (``live``)."""

    def __init__(self, store: Store, stream: EventStream) -> None:
        self._store = store
        self._stream = stream
        self.live: set[int] = set()

    async def sell(self, medium: PaymentMedium, product_id: int,
                   vend_one: VendOne) -> tuple[int, VendResult | None]:
        """Steps 1-5 above; returns (amount charged, the vend's result).  Raises
        CardDeclined when nothing was approved, CardUnavailable when the reader
        stopped answering before an approval."""
        store = self._store
        card = await store.tx(lambda db: card_journal.open_card_vend(db, medium.name,
                                                                     product_id))
        self.live.add(card.card_id)
        try:
            return await self._sell(medium, card, vend_one)
        finally:
            self.live.discard(card.card_id)

    async def _sell(self, medium: PaymentMedium, card: card_journal.CardVend,
                    vend_one: VendOne) -> tuple[int, VendResult | None]:
        store = self._store
        try:
            amount = await medium.request_vend(card.price, card.item)
        except HardwareError as exc:
            raise CardUnavailable(f"card reader not answering: {exc}") from None
        if amount is None:
            await store.tx(lambda db: card_journal.decline_card_vend(db, card.card_id,
                                                                     "denied"))
            raise CardDeclined(f"{medium.name} did not approve {card.price} cents")
        if not 0 <= amount <= card.price:
            log.warning("card vend %s: approved %d cents for a price of %d: refused",
                        card.card_id, amount, card.price)
            await _withdraw(store, medium, card,
                            f"approved {amount} for a price of {card.price}")
            raise CardDeclined(f"{medium.name} approved {amount} cents for {card.price}")
        try:
            ticket = await store.tx(lambda db: card_journal.approve_card_vend(db, card, amount))
        except BaseException:
            await _withdraw(store, medium, card, "the unit could not be reserved")
            raise
        result = await vend_one(ticket, lambda db, delivered: card_journal.record_outcome(
            db, card.card_id, delivered))
        await tell_outcome(store, self._stream, medium, card.card_id, card.item,
                           result.delivered)
        return (amount if result.delivered else 0), result

    async def reconcile(self, medium: PaymentMedium) -> int:
        """Tell the reader the outcome of every open card vend of ``medium`` that no
        running sale owns (at boot and whenever it answers again, before it is reset
        or enabled).  Returns how many stay open because the reader did not answer."""
        store = self._store
        left = 0
        for row in await store.run(card_journal.open_card_vends):
            if row["reader"] != medium.name or int(row["id"]) in self.live:
                continue
            card_id, item = int(row["id"]), int(row["item"])
            if row["status"] == "approved":  # cut between APPROVED and the outcome
                await store.tx(lambda db, r=row: card_journal.recover_cut_vend(db, r))  # type: ignore[misc]
                row = await store.run(lambda db, c=card_id: dict(  # type: ignore[misc]
                    db.table("card_vends").get(c)))
            delivered = row["outcome"] == "delivered"
            if not await tell_outcome(store, self._stream, medium, card_id, item, delivered):
                left += 1
                break  # the reader is silent: the rest waits too, in order
        return left


async def _withdraw(store: Store, medium: PaymentMedium, card: card_journal.CardVend,
                    why: str) -> None:
    """An approval the machine does not use: VEND FAILURE, then declined.  A reader
    that does not answer leaves it ``requested`` (told FAILURE when it is back)."""
    try:
        await medium.vend_failed(card.item)
    except HardwareError:
        return
    await store.tx(lambda db: card_journal.decline_card_vend(db, card.card_id, why))
