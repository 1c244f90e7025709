"""Payment media: where the money for a sale comes from.

Coins and API deposits are *stored credit*: the machine holds the money and
the sale takes the price from a holder's credit (``store.credit``).  A second
medium such as a cashless card reader (MDB, see the reference notes) holds
the money itself: the machine asks it to approve the price before the motor
turns, and tells it afterwards whether the product was delivered.
``Sales.sell_with`` runs that sale with the same journal, stock and vend
rules as a coin sale (``controller.sale.card`` journals the card's side); a
new reader implements ``PaymentMedium`` and touches none of them.

A medium that stops answering raises ``drivers.errors.HardwareError``: the
journal then keeps the vend open, and the reader is told its outcome as soon
as it answers again, before anything else.
"""

from __future__ import annotations

from typing import Protocol

from controller.errors import InsufficientFunds, OutOfService


class CardDeclined(InsufficientFunds):
    """The reader denied the vend (or did not approve it in time): nothing moved."""


class CardUnavailable(OutOfService):
    """The reader stopped answering during the request: nothing vended; the reader
    is told FAILURE when it answers again."""


class PaymentMedium(Protocol):
    """A payment device that holds the customer's money (a card reader)."""

    name: str  # its holder in the journal is ``medium:<name>``

    async def request_vend(self, price_cents: int, item: int) -> int | None:
        """Ask for ``price_cents`` for item number ``item``: the amount approved (MDB
        VEND APPROVED; the sale checks it against the price), or None when denied,
        cancelled or not answered in time.  Nothing has moved yet."""

    async def vend_succeeded(self, item: int) -> bool:
        """The product was delivered (MDB VEND SUCCESS).  True when the reader took
        it; False when it had lost the vend (it reset: an approved vend counts as
        paid)."""

    async def vend_failed(self, item: int) -> bool:
        """Nothing was delivered, or the vend was withdrawn (MDB VEND FAILURE): True
        when the reader released the approval; False when it had no such vend (it
        never approved it, or it lost the session and counted it as paid)."""
