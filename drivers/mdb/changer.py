"""``MdbCoinChanger``: a level 2 or 3 MDB coin changer at address 08.

Coins in: every POLL item is read by its mask, several per reply (MDB.md §2):
a deposit becomes a credit with the route the changer gave it (tube or
cashbox), a manual dispense and the tube counts are reported for the books,
status bytes become status events.  The bus has already acknowledged a POLL
reply when it is read, so events the controller did not take (its handler
raised) are kept and offered again at the next POLL, never dropped.

Change out (``pay``): one DISPENSE of at most 15 coins of one type at a time,
each after the caller journaled it, never sent twice; every POLL byte during
the payout is decoded (``02`` busy, a JUST RESET, a tube-sensor or tube-jam
status that makes the figures untrustworthy, coins that arrived meanwhile);
what was paid is the drop in TUBE STATUS, read before and after.

``drivers.mdb.changer_parts`` turns it into the controller's ``CoinAcceptor``
and one ``Hopper`` per tube.  Not modelled: ALTERNATIVE PAYOUT (the controller
plans the coins itself), DIAGNOSTIC STATUS, FTL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from drivers.base import CoinEvent, CoinEventKind, CoinPaidHook, PayoutResult
from drivers.errors import DeviceLost, DeviceNak
from drivers.mdb.block import ReplyKind
from drivers.mdb.changer_bytes import (
    CHANGER,
    COIN_TYPE,
    DISPENSE,
    EXP_FEATURE_ENABLE,
    EXP_ID,
    EXPANSION,
    JUST_RESET,
    MAX_DISPENSE,
    OPTION_ALT_PAYOUT,
    OPTION_DIAG,
    PAYOUT_BUSY,
    SETUP,
    STATUS_MEANING,
    TUBE_STATUS,
    ChangerItem,
    ChangerSetup,
    ItemKind,
    Route,
    TubeStatus,
    coin_type_data,
    dispense_data,
    parse_poll,
    parse_setup,
    parse_tube_status,
)
from drivers.mdb.device import DeviceState, MdbDevice, MdbIdentity, offer_events
from drivers.mdb.link import MdbLink

log = logging.getLogger(__name__)

EventSink = Callable[[list[CoinEvent]], Awaitable[None]]
# status bytes that make a payout's figures untrustworthy (vender #23)
DOUBTFUL = {0x04: "tube sensor", 0x07: "tube jam"}
ALERTS = {0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0C, 0x0D}


@dataclass
class _Payout:
    """What the POLLs of one DISPENSE showed."""

    busy_seen: bool = False
    reset: bool = False
    doubtful: str = ""
    deposited: dict[int, int] = field(default_factory=dict)  # coin type -> coins into its tube


class MdbCoinChanger(MdbDevice):
    """The changer: setup, coin types, tubes, coins in and DISPENSE out."""

    address = CHANGER
    non_response_s = 2.0
    name = "changer"

    def __init__(self, link: MdbLink, *, poll_interval_s: float = 0.1,
                 reset_retry_s: float = 10.0, coin_s: float = 2.0,
                 start_grace_s: float = 0.5, after_reset_s: float = 0.0,
                 non_response_s: float | None = None) -> None:
        super().__init__(link, poll_interval_s=poll_interval_s, reset_retry_s=reset_retry_s,
                         non_response_s=non_response_s)
        if coin_s <= 0 or start_grace_s < 0 or after_reset_s < 0:
            raise ValueError("coin_s > 0, start_grace_s >= 0, after_reset_s >= 0")
        self.coin_s = coin_s  # longest time one coin may take to be paid
        self.start_grace_s = start_grace_s  # a payout may take this long to report busy
        self.after_reset_s = after_reset_s  # some changers need 500 ms before TUBE STATUS
        self.setup_info: ChangerSetup | None = None
        self.tubes: TubeStatus | None = None
        self.options = 0
        self.paying = False
        self._accepting = False
        self._accept_cents: frozenset[int] = frozenset()
        self._sink: EventSink | None = None
        self._pending: list[CoinEvent] = []  # found with the device held, handed over after
        self._coin_type_dirty = False
        self.add_listener(self._state_changed)

    # --- the life cycle's hooks --------------------------------------------------

    def is_just_reset(self, data: bytes) -> bool:
        return any(i.kind is ItemKind.STATUS and i.status == JUST_RESET for i in parse_poll(data))

    async def setup(self) -> None:
        reply = await self.command(SETUP)
        try:
            self.setup_info = parse_setup(reply.data)
        except ValueError as exc:
            raise DeviceLost(f"MDB changer setup unreadable: {exc}") from exc
        if self.setup_info.level >= 3:
            ident = await self.command(EXPANSION, bytes([EXP_ID]))
            self.identity = MdbIdentity.parse(ident.data)
            self.options = int.from_bytes(ident.data[29:33].ljust(4, b"\0"), "big") \
                if len(ident.data) >= 29 else 0
            wanted = self.options & (OPTION_ALT_PAYOUT | OPTION_DIAG)
            await self.command(EXPANSION, bytes([EXP_FEATURE_ENABLE]) + wanted.to_bytes(4, "big"))
        if self.after_reset_s:
            await asyncio.sleep(self.after_reset_s)
        await self.read_tubes()
        await self._send_coin_type()

    async def after_reset(self, *, unexpected: bool) -> None:
        events = [CoinEvent(CoinEventKind.TUBE_COUNT, value_cents=cents,
                            count=self.tube_count(cents)) for cents in self.coin_values()]
        if unexpected:
            events.insert(0, CoinEvent(CoinEventKind.DEVICE_RESET,
                                       meaning="the changer reset itself: set up again"))
        self._pending.extend(events)

    async def handle_poll(self, data: bytes) -> bool:
        events, just_reset = self._decode(parse_poll(data), None)
        self._pending.extend(events)
        return just_reset

    async def after_round(self) -> None:
        await self._deliver()
        if self._coin_type_dirty and self.ready and not self.paying:
            async with self.exclusive():
                await self._send_coin_type()

    async def _state_changed(self, device: MdbDevice, state: DeviceState, why: str) -> None:
        if state is DeviceState.OFFLINE:
            self._pending.append(CoinEvent(CoinEventKind.DEVICE_LOST, meaning=why))
        elif state is DeviceState.READY and why == "answers again":
            self._pending.append(CoinEvent(CoinEventKind.DEVICE_BACK, meaning=why))

    # --- coins in ---------------------------------------------------------------

    def set_sink(self, sink: EventSink) -> None:
        """Who takes the coin events (the acceptor adapter)."""
        self._sink = sink

    async def _deliver(self) -> None:
        """Offer every event not taken yet (the device not held: the sink may call
        back); kept for the next round when the sink raises."""
        if not self._pending or self._sink is None:
            return
        batch, self._pending = self._pending, []
        if not await offer_events(self._sink, batch, "MDB changer: coin events"):
            self._pending = batch + self._pending

    def _decode(self, items: list[ChangerItem], payout: _Payout | None
                ) -> tuple[list[CoinEvent], bool]:
        events: list[CoinEvent] = []
        just_reset = False
        setup = self.setup_info
        for item in items:
            value = setup.value_cents(item.coin_type) if setup else None
            if item.kind is ItemKind.DEPOSIT:
                events.append(self._deposit_event(item, value))
                if payout is not None and item.route is Route.TUBE:
                    payout.deposited[item.coin_type] = payout.deposited.get(item.coin_type, 0) + 1
            elif item.kind is ItemKind.MANUAL:
                events.append(CoinEvent(CoinEventKind.MANUAL_PAYOUT, value_cents=value or 0,
                                        count=item.count, position=item.coin_type,
                                        meaning="coins paid out by hand at the changer"))
            elif item.kind is ItemKind.SLUGS:
                events.append(CoinEvent(CoinEventKind.REJECTED, code=0x20 | item.count,
                                        meaning=f"{item.count} slug(s) refused"))
            elif item.status == JUST_RESET:
                just_reset = True
                if payout is not None:
                    payout.reset = True
            elif item.status == PAYOUT_BUSY:
                if payout is not None:
                    payout.busy_seen = True
            else:
                events.extend(self._status_event(item.status, payout))
        return events, just_reset

    @staticmethod
    def _deposit_event(item: ChangerItem, value: int | None) -> CoinEvent:
        if item.route is Route.REJECT or value is None:
            return CoinEvent(CoinEventKind.REJECTED, value_cents=value or 0,
                             position=item.coin_type, meaning="coin returned by the changer")
        route = "tube" if item.route is Route.TUBE else "cashbox"
        return CoinEvent(CoinEventKind.CREDIT, value_cents=value, position=item.coin_type,
                         route=route, count=item.tube_count)

    def _status_event(self, status: int, payout: _Payout | None) -> list[CoinEvent]:
        if payout is not None and status in DOUBTFUL:
            payout.doubtful = DOUBTFUL[status]
        meaning = STATUS_MEANING.get(status, f"status {status:#04x}")
        if status == 0x01:
            return [CoinEvent(CoinEventKind.RETURN_LEVER, code=status, meaning=meaning)]
        if status == 0x0A:
            return []  # changer busy: it answers again shortly
        kind = (CoinEventKind.FRAUD if status == 0x0D else CoinEventKind.SENSOR
                if status == 0x05 else CoinEventKind.SENSOR_FAULT)
        return [CoinEvent(kind, code=status, meaning=meaning, alert=status in ALERTS)]

    # --- coin types ---------------------------------------------------------------

    def coin_values(self) -> list[int]:
        """The coin values the changer takes, from SETUP (empty before)."""
        return sorted(set(self.setup_info.coins_cents.values())) if self.setup_info else []

    async def set_accepting(self, accepting: bool, coins_cents: Collection[int] | None = None
                            ) -> None:
        """COIN TYPE: accept these coin values (or none); sent now when ready (after a
        payout under way), else at setup.  Never call it with the device held."""
        self._accepting = accepting
        if coins_cents is not None:
            self._accept_cents = frozenset(coins_cents)
        self._coin_type_dirty = True
        if self.ready:
            async with self.exclusive():
                if self.ready:
                    await self._send_coin_type()

    @property
    def accepting(self) -> bool:
        return self._accepting and self.ready

    async def _send_coin_type(self) -> None:
        setup = self.setup_info
        if setup is None:
            return
        accept = 0
        if self._accepting:
            for t, cents in setup.coins_cents.items():
                if cents in self._accept_cents:
                    accept |= 1 << t
        self._coin_type_dirty = False
        await self.command(COIN_TYPE, coin_type_data(accept, setup.tube_mask))

    # --- tubes and change ------------------------------------------------------

    async def read_tubes(self) -> TubeStatus:
        reply = await self.command(TUBE_STATUS)
        self.tubes = parse_tube_status(reply.data)
        return self.tubes

    def tube_count(self, cents: int) -> int:
        """Coins in the tube of this value at the last TUBE STATUS (0: no such tube)."""
        setup, tubes = self.setup_info, self.tubes
        if setup is None or tubes is None:
            return 0
        return sum(tubes.counts[t] for t, v in setup.coins_cents.items()
                   if v == cents and setup.tube_mask >> t & 1)

    def tube_out_of_order(self, cents: int) -> bool:
        """Full and empty at once at the last TUBE STATUS: the changer's "bad tube"."""
        t = self.tube_type(cents)
        return t is not None and self.tubes is not None and self.tubes.bad_tube(t)

    def tube_full(self, cents: int) -> bool:
        """The changer's full sensor of this tube at the last TUBE STATUS."""
        t = self.tube_type(cents)
        return t is not None and self.tubes is not None and bool(self.tubes.full_mask >> t & 1)

    def tube_type(self, cents: int) -> int | None:
        setup = self.setup_info
        if setup is None:
            return None
        return next((t for t, v in setup.coins_cents.items()
                     if v == cents and setup.tube_mask >> t & 1), None)

    async def pay(self, cents: int, count: int, *, on_paid: CoinPaidHook | None = None
                  ) -> PayoutResult:
        """Pay ``count`` coins of ``cents`` from its tube (see the module docstring).

        Raises only when certainly nothing was paid (not ready, no such tube, the
        first DISPENSE refused); otherwise a result, ``certain`` False when a reset,
        a tube-sensor or tube-jam status, or silence left the figures in doubt.
        """
        if not self.ready:
            raise DeviceLost(f"MDB changer not ready ({self.state.value}: {self.detail})")
        coin_type = self.tube_type(cents)
        if coin_type is None:
            raise DeviceNak(f"the changer has no tube for {cents}c")
        async with self.exclusive():
            self.paying = True
            # tube counts read before this payout are stale once it pays: not handed over
            self._pending = [e for e in self._pending if e.kind is not CoinEventKind.TUBE_COUNT]
            try:
                return await self._pay(coin_type, count, on_paid)
            finally:
                self.paying = False

    async def _pay(self, coin_type: int, count: int, on_paid: CoinPaidHook | None
                   ) -> PayoutResult:
        paid = 0
        while paid < count:
            chunk = min(MAX_DISPENSE, count - paid)
            try:
                before = await self.read_tubes()
            except DeviceLost as exc:
                if paid == 0:
                    raise
                return PayoutResult(count, paid, fault=f"changer lost ({exc})", certain=True)
            if before.bad_tube(coin_type) or before.counts[coin_type] == 0:
                if paid == 0:
                    raise DeviceNak(f"tube of type {coin_type} is empty or out of order")
                return PayoutResult(count, paid, fault="empty")
            reply = await self.command(DISPENSE, dispense_data(coin_type, chunk), repeat=False)
            if reply.kind is ReplyKind.NAK and paid == 0:
                raise DeviceNak("the changer refused DISPENSE")
            # ACK, or silence: it may have been taken; never sent again, read back instead
            got, doubt = await self._follow_payout(coin_type, chunk, before)
            paid += got
            if on_paid is not None:
                await on_paid(paid)
            if doubt:
                return PayoutResult(count, paid, fault=doubt, certain=False)
            if got < chunk:
                return PayoutResult(count, paid, fault="short pay")
        return PayoutResult(count, paid)

    async def _follow_payout(self, coin_type: int, chunk: int, before: TubeStatus
                             ) -> tuple[int, str]:
        """POLL until the payout ends; the coins it paid and a doubt (or "")."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.start_grace_s + chunk * self.coin_s
        seen = _Payout()
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                data = await self.poll()
            except DeviceLost as exc:  # nothing can be read from a silent changer
                return 0, f"changer silent during the payout ({exc})"
            busy_before = seen.busy_seen
            seen.busy_seen = False
            events, _ = self._decode(parse_poll(data), seen)
            self._pending.extend(events)  # handed over after the payout
            if seen.reset:
                await self._reinitialise_after_reset()
                break
            if seen.busy_seen:
                continue
            seen.busy_seen = busy_before
            if busy_before or loop.time() - started >= self.start_grace_s:
                break
            if loop.time() > deadline:
                break
        try:
            after = await self.read_tubes()
        except DeviceLost as exc:
            return 0, f"changer silent after the payout ({exc})"
        got = before.counts[coin_type] + seen.deposited.get(coin_type, 0) - after.counts[coin_type]
        got = 0 if after.bad_tube(coin_type) else max(0, min(chunk, got))
        if seen.reset:
            return got, "the changer reset itself during the payout"
        if seen.doubtful:
            return got, f"{seen.doubtful} during the payout"
        return got, ""

    async def _reinitialise_after_reset(self) -> None:
        """A JUST RESET in the middle of a payout: set it up again, then reconcile."""
        log.warning("MDB changer reset itself during a payout: set up again")
        await self.setup()
        await self.after_reset(unexpected=True)
