"""Payment media: where the money for a sale comes from.

Coins and API deposits are *stored credit*: the machine holds the money and
the sale takes the price from a holder's credit (``store.credit``).  A second
medium such as a cashless card reader (MDB, see the reference notes) holds
the money itself: the machine asks it to approve the price before the motor
turns, and tells it afterwards whether the product was delivered.
``Sales.sell_with`` runs that sale with the same journal, stock and vend
rules as a coin sale; a new reader implements ``PaymentMedium`` and touches
none of them.
"""

from __future__ import annotations

from typing import Protocol


class PaymentMedium(Protocol):
    """A payment device that holds the customer's money (a card reader)."""

    name: str  # its holder in the journal is ``medium:<name>``

    async def request_vend(self, price_cents: int, slot: str) -> bool:
        """Ask for ``price_cents``: True when approved (MDB VEND APPROVED), False when
        denied.  Nothing has moved yet."""

    async def vend_succeeded(self, slot: str) -> None:
        """The product was delivered: the approved amount is taken (MDB VEND SUCCESS)."""

    async def vend_failed(self, slot: str) -> None:
        """Nothing was delivered: the approval is released (MDB VEND FAILURE)."""
