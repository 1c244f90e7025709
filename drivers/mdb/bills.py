"""``MdbBillValidator``: an MDB bill validator at address 30, always through escrow.

A bill the validator holds in escrow (POLL ``9x``) is offered to the
controller's ``decide(cents)``, with the device free: True stacks it (ESCROW
``01``), False returns it (``00``).  ESCROW is sent once, never repeated
blindly; the validator's ``8x`` (stacked), ``Ax`` (returned) or ``0A``
(invalid escrow) ends it, within ``escrow_timeout_s`` (30 s by the
standard).  Only a stacked bill is credit.  A bill still in escrow when the
validator closes is returned first (bill types off, ESCROW 00, a last POLL);
one that a power cut leaves in escrow is returned by the RESET every start
begins with, so it is never credited twice.

Jams, a missing cash box and sensor faults come as ``FAULT`` events until a
POLL shows them gone (``FAULT_CLEARED``); a full stacker (STACKER's top bit)
is a fault too.  Not modelled: bill recyclers, SECURITY levels.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from drivers.errors import DeviceLost, NotStarted
from drivers.mdb.bill_bytes import (
    BILL_TYPE,
    BILLS,
    DISABLED,
    ESCROW,
    EXPANSION,
    FAULT_STATUSES,
    JUST_RESET,
    SETUP,
    STACKER,
    STATUS_MEANING,
    BillItemKind,
    BillRoute,
    BillSetup,
    bill_type_data,
    parse_poll,
    parse_setup,
    parse_stacker,
)
from drivers.mdb.block import ReplyKind
from drivers.mdb.device import DeviceState, MdbDevice, MdbIdentity, offer_events
from drivers.mdb.link import MdbLink

log = logging.getLogger(__name__)


class BillEventKind(enum.StrEnum):
    STACKED = "stacked"  # credit: the bill is in the stacker
    RETURNED = "returned"  # the bill went back to the customer
    REJECTED = "rejected"  # refused by the validator (not recognised, disabled)
    FAULT = "fault"  # jam, cash box out, stacker full, sensor or motor fault
    FAULT_CLEARED = "fault_cleared"
    LOST = "lost"  # silent past its non-response time
    BACK = "back"  # answers again


@dataclass(frozen=True, slots=True)
class BillEvent:
    """One event of the validator; ``seq`` grows by one per event of this driver, so
    a handler offered a batch again can skip what it already did."""

    kind: BillEventKind
    value_cents: int = 0
    meaning: str = ""
    seq: int = 0


Decider = Callable[[int], Awaitable[bool]]
BillSink = Callable[[list[BillEvent]], Awaitable[None]]


class MdbBillValidator(MdbDevice):
    """The validator: setup, bill types, escrow decisions, stacker."""

    address = BILLS
    non_response_s = 5.0
    name = "bills"

    def __init__(self, link: MdbLink, *, accept_cents: Collection[int],
                 poll_interval_s: float = 0.1, reset_retry_s: float = 10.0,
                 non_response_s: float | None = None, escrow_timeout_s: float = 30.0) -> None:
        super().__init__(link, poll_interval_s=poll_interval_s, reset_retry_s=reset_retry_s,
                         non_response_s=non_response_s)
        if escrow_timeout_s <= 0:
            raise ValueError("escrow_timeout_s must be > 0")
        self.accept_cents = frozenset(accept_cents)
        self.escrow_timeout_s = escrow_timeout_s
        self.setup_info: BillSetup | None = None
        self.stacker_full = False
        self.stacker_count = 0
        self.escrow_cents: int | None = None  # a bill held in escrow now
        self.fault: str | None = None
        self._enabled = False
        self._types_dirty = False
        self._pending: list[BillEvent] = []
        self._seq = 0
        self._ended = 0  # escrowed bills stacked or returned so far
        self._sink: BillSink | None = None
        self._decide: Decider | None = None
        self.add_listener(self._state_changed)

    def set_handlers(self, sink: BillSink, decide: Decider) -> None:
        """Who hears the bill events, and who decides what a bill in escrow becomes."""
        self._sink, self._decide = sink, decide

    # --- life cycle hooks -----------------------------------------------------------

    def is_just_reset(self, data: bytes) -> bool:
        return any(i.kind is BillItemKind.STATUS and i.status == JUST_RESET
                   for i in parse_poll(data))

    async def setup(self) -> None:
        reply = await self.command(SETUP)
        try:
            self.setup_info = parse_setup(reply.data)
        except ValueError as exc:
            raise DeviceLost(f"MDB bill validator setup unreadable: {exc}") from exc
        ident = await self.command(EXPANSION, b"\x00")
        if ident.kind is ReplyKind.DATA:
            self.identity = MdbIdentity.parse(ident.data)
        self.escrow_cents = None  # a reset returned any bill it held
        await self.read_stacker()
        await self._send_bill_types()

    async def handle_poll(self, data: bytes) -> bool:
        return self._decode(data)

    async def after_round(self) -> None:
        if self.escrow_cents is not None and self._decide is not None and self.ready:
            await self._settle_escrow(self.escrow_cents)
        if self._types_dirty and self.ready:
            async with self.exclusive():
                await self._send_bill_types()
        await self._deliver()

    async def _state_changed(self, device: MdbDevice, state: DeviceState, why: str) -> None:
        if state is DeviceState.OFFLINE:
            self._event(BillEventKind.LOST, meaning=why)
        elif state is DeviceState.READY and why == "answers again":
            self._event(BillEventKind.BACK, meaning=why)

    # --- POLL items -------------------------------------------------------------------

    def _decode(self, data: bytes) -> bool:
        just_reset, faults = False, []
        for item in parse_poll(data):
            value = self.setup_info.value_cents(item.bill_type) if self.setup_info else None
            if item.kind is BillItemKind.BILL:
                self._bill(item.route, value)
            elif item.kind is BillItemKind.ATTEMPTS:
                self._event(BillEventKind.REJECTED,
                            meaning=f"{item.count} bill(s) while disabled")
            elif item.status == JUST_RESET:
                just_reset = True
            elif item.status in FAULT_STATUSES:
                faults.append(STATUS_MEANING[item.status])
            elif item.status == 0x0B:
                self._event(BillEventKind.REJECTED, meaning="bill rejected")
        self._track_fault(faults, disabled_seen=DISABLED in data)
        return just_reset

    def _bill(self, route: BillRoute, value: int | None) -> None:
        cents = value or 0
        if route is BillRoute.ESCROW:
            self.escrow_cents = cents
        elif route in (BillRoute.STACKED, BillRoute.RECYCLER):
            self.escrow_cents = None
            self._ended += 1
            self.stacker_count += 1
            self._event(BillEventKind.STACKED, cents)
        elif route is BillRoute.RETURNED:
            self.escrow_cents = None
            self._ended += 1
            self._event(BillEventKind.RETURNED, cents)
        else:
            self._event(BillEventKind.REJECTED, cents, "bill refused")

    def _track_fault(self, faults: list[str], *, disabled_seen: bool) -> None:
        if self.stacker_full:
            faults.append("bill stacker full: empty it")
        if faults and self.fault is None:
            self.fault = "; ".join(faults)
            self._event(BillEventKind.FAULT, meaning=self.fault)
        elif not faults and self.fault is not None and not (disabled_seen and self._enabled):
            self._event(BillEventKind.FAULT_CLEARED, meaning=self.fault)
            self.fault = None

    # --- escrow --------------------------------------------------------------------

    async def _settle_escrow(self, cents: int) -> None:
        assert self._decide is not None
        try:
            stack = await self._decide(cents)
        except Exception:
            log.exception("MDB bills: escrow decision failed: returning the bill")
            stack = False
        async with self.exclusive():
            if self.escrow_cents is None:
                return  # it ended meanwhile (a reset returned it)
            await self._escrow(stack)

    async def _escrow(self, stack: bool) -> None:
        """ESCROW once, then POLL until the bill is stacked or returned."""
        await self.command(ESCROW, b"\x01" if stack else b"\x00", repeat=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.escrow_timeout_s
        ended = self._ended
        while self._ended == ended and loop.time() < deadline:
            await asyncio.sleep(self.poll_interval_s)
            data = await self.poll()
            if 0x0A in parse_poll_statuses(data):
                self.escrow_cents = None  # invalid escrow: nothing held any more
                break
            if self._decode(data):
                await self.setup()  # a reset returned the bill
                break
        if self._ended == ended:
            log.error("MDB bills: no answer to ESCROW in %g s", self.escrow_timeout_s)
        await self.read_stacker()

    async def return_escrow(self) -> None:
        """At a stop: bill types off, the escrowed bill returned, a last POLL."""
        if self.escrow_cents is None or not self.ready:
            return
        async with self.exclusive():
            await self.command(BILL_TYPE, bill_type_data(0, 0))
            if self.escrow_cents is not None:
                await self._escrow(False)
        await self._deliver()

    # --- bill types and stacker ------------------------------------------------------

    async def set_enabled(self, enabled: bool) -> None:
        """Bill types on (those of ``accept_cents``) or off; never with the device held."""
        self._enabled = enabled
        self._types_dirty = True
        if self.ready:
            async with self.exclusive():
                if self.ready:
                    await self._send_bill_types()

    @property
    def enabled(self) -> bool:
        return self._enabled and self.ready and self.fault is None

    async def _send_bill_types(self) -> None:
        setup = self.setup_info
        if setup is None:
            return
        mask = 0
        if self._enabled and not self.stacker_full:
            for t, cents in setup.bills_cents.items():
                if cents in self.accept_cents:
                    mask |= 1 << t
        self._types_dirty = False
        await self.command(BILL_TYPE, bill_type_data(mask, mask))

    async def read_stacker(self) -> None:
        reply = await self.command(STACKER)
        full, count = parse_stacker(reply.data)
        if full != self.stacker_full:
            self.stacker_full = full
            self._types_dirty = True
            self._track_fault([], disabled_seen=False)
        self.stacker_count = count

    def _event(self, kind: BillEventKind, value_cents: int = 0, meaning: str = "") -> None:
        self._seq += 1
        self._pending.append(BillEvent(kind, value_cents, meaning, self._seq))

    async def _deliver(self) -> None:
        if not self._pending or self._sink is None:
            return
        batch, self._pending = self._pending, []
        if not await offer_events(self._sink, batch, "MDB bills: events"):
            self._pending = batch + self._pending

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.return_escrow(), 3.0)
        except (TimeoutError, DeviceLost, NotStarted) as exc:
            log.warning("MDB bills: escrowed bill not returned at close: %s", exc)
        await super().close()


def parse_poll_statuses(data: bytes) -> set[int]:
    return {i.status for i in parse_poll(data) if i.kind is BillItemKind.STATUS}
