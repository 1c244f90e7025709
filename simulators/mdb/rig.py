"""The simulated MDB side of a machine: the board on its pty and the devices behind it.

``SimMdbRig`` is what ``simulators.machine`` starts when the config names MDB
devices: a ``SimQibixxBoard`` with a ``SimMdbChanger`` (``[acceptor] kind =
"mdb"``) on the saved world.  Other simulated peripherals plug into
``rig.board`` by address (``SimQibixxBoard.add``); a ``SimCashlessReader``
when ``[cashless] kind = "mdb"``.  It names its devices for sim control:
``changer``, ``tube:<coin>``, ``reader``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from simulators.mdb.bills import SimMdbBillValidator
from simulators.mdb.board import SimQibixxBoard
from simulators.mdb.changer import TUBE_FAULTS, SimMdbChanger
from simulators.mdb.reader import SimCashlessReader
from simulators.world import SimWorld


class ChangerSlot:
    """The coin slot of the simulated changer."""

    def __init__(self, changer: SimMdbChanger) -> None:
        self._changer = changer

    async def insert(self, coin: int) -> str:
        return self._changer.insert(coin)


class SimTube:
    """One tube of the simulated changer, as a fault target (``tube:50``)."""

    FAULTS: ClassVar[frozenset[str]] = TUBE_FAULTS

    def __init__(self, changer: SimMdbChanger, coin: int) -> None:
        self._changer = changer
        self._coin = coin

    def inject(self, fault: str) -> None:
        self._changer.inject_tube(self._coin, fault)


class SimMdbRig:
    """The board and the simulated MDB devices a config asks for."""

    def __init__(self, world: SimWorld, *, coins: list[int], changer: bool, bills: bool,
                 tube_capacity: int, coin_s: float, reader: bool = False) -> None:
        self.board = SimQibixxBoard()
        self.changer: SimMdbChanger | None = None
        self.bills: SimMdbBillValidator | None = None
        self.reader = SimCashlessReader(world) if reader else None
        if self.reader is not None:
            self.board.add(self.reader)
        if changer:
            self.changer = SimMdbChanger(world, coins=coins, tube_capacity=tube_capacity,
                                         coin_s=coin_s)
            self.board.add(self.changer)
        if bills:
            self.bills = SimMdbBillValidator(world)
            self.board.add(self.bills)

    @property
    def port(self) -> str:
        return self.board.port

    @property
    def coin_slot(self) -> ChangerSlot | None:
        return ChangerSlot(self.changer) if self.changer is not None else None

    async def start(self) -> None:
        await self.board.start()

    async def close(self) -> None:
        await self.board.close()

    def device_named(self, name: str
                     ) -> SimMdbChanger | SimTube | SimMdbBillValidator | SimCashlessReader:
        """``changer``, ``tube:<coin>``, ``bills`` or ``reader`` (KeyError for any other)."""
        if name == "reader" and self.reader is not None:
            return self.reader
        if name == "bills" and self.bills is not None:
            return self.bills
        if self.changer is not None:
            if name == "changer":
                return self.changer
            if name.startswith("tube:") and name[5:].isdigit():
                coin = int(name[5:])
                if self.changer.tube_capacity and coin in self.changer.coins:
                    return SimTube(self.changer, coin)
        raise KeyError(f"no device {name!r}")

    def names(self) -> list[str]:
        names = ["bills"] if self.bills is not None else []
        if self.reader is not None:
            names.append("reader")
        if self.changer is None:
            return names
        return ["changer", *(f"tube:{c}" for c in self.changer.coins), *names]


async def feed_bill(bills: SimMdbBillValidator, bill: int,
                    panel_credit: Callable[[], Awaitable[int]]) -> str:
    """A customer feeds a bill: waits (2 s at most) for the validator to take it, puts
    it in, and waits (3 s at most) until it is stacked and credited or given back.
    Returns what the validator said at the slot ("escrow" or "rejected")."""
    for _ in range(200):
        if bills.takes(bill):
            break
        await asyncio.sleep(0.01)
    before, credit = bills.stacker_value(), await panel_credit()
    result = bills.insert(bill)
    for _ in range(300):
        if bills.escrowed() is None and (bills.stacker_value() == before
                                         or await panel_credit() != credit):
            break
        await asyncio.sleep(0.01)
    return result
