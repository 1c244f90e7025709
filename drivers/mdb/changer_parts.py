"""The MDB changer seen through the controller's seams: a ``CoinAcceptor`` and a
``Hopper`` per tube.

``ChangerAcceptor`` is the coin side (COIN TYPE is its inhibit; credits carry
the changer's route; manual dispenses and tube counts come as events).
``ChangerTube`` is one tube as a hopper: its ``status().counter`` is the coins
in the tube (``counter_is_coin_count``), so the controller's journal records
the count before each DISPENSE and recovery reads what a cut payout paid from
the drop in that count, never paying twice.  A tube is "not answering" while
the changer is not ready, which the controller treats as a transient fault.
"""

from __future__ import annotations

from collections.abc import Collection

from drivers.base import (
    CoinAcceptor,
    CoinBatch,
    CoinEvent,
    CoinHandler,
    CoinPaidHook,
    Hopper,
    HopperStatus,
    PayoutResult,
)
from drivers.errors import DeviceLost, HopperFault, NotStarted
from drivers.mdb.changer import MdbCoinChanger


class ChangerAcceptor(CoinAcceptor):
    """The coin-in side of an MDB changer."""

    fills_tubes_in_service = True

    def __init__(self, changer: MdbCoinChanger, *, coins_cents: Collection[int]) -> None:
        self.changer = changer
        self.name = "changer"
        self.heartbeat = changer.heartbeat
        self._known = frozenset(coins_cents)
        self._coins: frozenset[int] = frozenset()
        self._wish = False
        self._handler: CoinHandler | None = None
        changer.set_sink(self._on_events)

    def set_handler(self, handler: CoinHandler) -> None:
        self._handler = handler

    async def _on_events(self, events: list[CoinEvent]) -> None:
        if self._handler is None:
            raise NotStarted("no coin handler yet: the events wait")  # kept by the changer
        if events:
            await self._handler(CoinBatch(tuple(events)))

    async def start(self, *, resume_counter: int | None = None) -> None:
        """Start the changer's life cycle (it comes in, or reports itself lost)."""
        await self.changer.start()

    async def set_accepting(self, accepting: bool) -> None:
        self._wish = accepting
        await self.changer.set_accepting(accepting, self._coins)

    async def set_coins_enabled(self, coins_cents: Collection[int]) -> None:
        self._coins = frozenset(coins_cents)
        await self.changer.set_accepting(self._wish, self._coins)

    @property
    def known_coins_cents(self) -> frozenset[int]:
        values = self.changer.coin_values()
        return frozenset(values) if values else self._known

    @property
    def accepting(self) -> bool:
        return self.changer.accepting

    async def close(self) -> None:
        await self.changer.close()


class ChangerTube(Hopper):
    """One tube of an MDB changer, paying change as a hopper would."""

    counter_is_coin_count = True

    def __init__(self, changer: MdbCoinChanger, coin_cents: int, *,
                 ready_wait_s: float = 3.0) -> None:
        self.changer = changer
        self.coin_cents = coin_cents
        self.name = f"tube:{coin_cents}"
        self.ready_wait_s = ready_wait_s

    async def start(self) -> None:
        """Start the changer if nobody has (idempotent) and wait while it initialises."""
        await self.changer.start()
        await self.changer.wait_initialised(self.ready_wait_s)
        if not self.changer.ready:
            raise DeviceLost(f"MDB changer not ready ({self.changer.state.value})")

    async def status(self) -> HopperStatus:
        """The tube's count (fresh TUBE STATUS) as the counter; nothing remaining."""
        if not self.changer.ready:
            raise DeviceLost(f"MDB changer not ready ({self.changer.state.value})")
        if self.changer.tube_type(self.coin_cents) is None:
            raise DeviceLost(f"the changer has no tube for {self.coin_cents}c")
        if not self.changer.paying:
            async with self.changer.exclusive():
                await self.changer.read_tubes()
        if self.changer.tube_out_of_order(self.coin_cents):
            raise HopperFault(f"the changer says its {self.coin_cents}c tube is out of order")
        count = self.changer.tube_count(self.coin_cents)
        return HopperStatus(counter=count, remaining=0, paid=0, unpaid=0)

    async def dispense(self, count: int, *, on_paid: CoinPaidHook | None = None
                       ) -> PayoutResult:
        return await self.changer.pay(self.coin_cents, count, on_paid=on_paid)

    async def emergency_stop(self) -> HopperStatus:
        """A changer cannot be stopped mid-payout; its tube count is read instead."""
        return await self.status()

    async def close(self) -> None:
        return None
