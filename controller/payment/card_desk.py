"""The card reader at the machine: sessions for the panel, faults, and settling first.

``CardDesk`` wires an MDB cashless reader (``drivers.mdb.cashless``) into the
machine:

- before the reader is reset or enabled (at boot and whenever it answers
  again), every open card vend is told to it (``controller.sale.card.reconcile``):
  a reader reset before SUCCESS would count an approved vend as paid (a
  vend a running sale still owns is left to it);
- a card presented or taken away is published (``card`` events) and the
  panel follows;
- a silent reader is a scoped fault (``reader``): card sales stop, nothing
  else; it heals when the reader answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.sale.card import CardVends
from controller.store import Store, card_journal
from drivers.mdb.cashless import CardSession, MdbCashlessReader
from drivers.mdb.device import DeviceState, MdbDevice

log = logging.getLogger(__name__)
DEVICE = "reader"


class CardDesk:
    def __init__(self, store: Store, stream: EventStream, faults: FaultRegistry,
                 card_vends: CardVends, reader: MdbCashlessReader) -> None:
        self._store = store
        self._card_vends = card_vends
        self._stream = stream
        self._faults = faults
        self.reader = reader
        self.changed: Callable[[], None] = lambda: None  # the panel follows sessions
        reader.settle_first = self._settle_first
        reader.on_session = self._session
        reader.add_listener(self._state)

    @property
    def name(self) -> str:
        return self.reader.name

    async def start(self) -> None:
        await self.reader.start()

    async def close(self) -> None:
        await self.reader.close()

    @property
    def session(self) -> CardSession | None:
        return self.reader.session

    @property
    def can_vend(self) -> bool:
        return self.reader.can_vend

    async def end_session(self) -> None:
        await self.reader.end_session()

    async def _settle_first(self) -> bool:
        left = await self._card_vends.reconcile(self.reader)
        return left == 0

    def _session(self, session: CardSession | None) -> None:
        self._stream.publish("card", present=session is not None,
                             funds=None if session is None else session.funds_cents)
        self.changed()

    async def _state(self, _device: MdbDevice, state: DeviceState, why: str) -> None:
        if state is DeviceState.OFFLINE:
            await self._faults.report(f"card reader not answering ({why}): card sales stopped",
                                      device=DEVICE, latched=False)
        elif state is DeviceState.READY:
            identity = self.reader.identity.as_dict()
            await self._store.tx(lambda db: card_journal.save_reader_identity(db, identity))
            if self._faults.get(DEVICE) is not None:
                await self._faults.heal(DEVICE, "the card reader answers again")
        self.changed()

    async def state_json(self) -> dict[str, Any]:
        refunds = await self._store.run(card_journal.refunds_owed)
        sales = await self._store.run(card_journal.card_sales)
        open_vends = len(await self._store.run(card_journal.open_card_vends))
        return {**self.reader.state_json(), "sales": sales, "refundsOwed": refunds,
                "openCardVends": open_vends}
