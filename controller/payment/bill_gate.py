"""The bill gate: an MDB bill validator's bill types, escrow decisions and bills credited.

Bills are panel credit only.  The validator takes bills only while the
machine takes coins from a walk-up customer (``idle``/``credit``, no deposit
claim waiting, no operator count).  A bill in escrow is stacked only when the
new panel credit stays within ``max_credit`` and could be paid back from the
coins held (a bill is never change); otherwise it is returned.  Credit comes
only with "stacked", in one transaction with the cash booked.  The
validator's jams, a missing cash box and a full stacker are faults of the
``bills`` device alone, healed when it reports them gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import sqlite_utils

from controller import money
from controller.config import Config
from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.fsm import READY, MachineModel
from controller.store import Store
from controller.store.credit import PANEL, get_credit
from controller.store.event_log import append_event
from controller.store.inventory import credit_bill, payout_inventory
from controller.tasks import Supervisor
from drivers.mdb.bills import BillEvent, BillEventKind, MdbBillValidator

log = logging.getLogger(__name__)
DEVICE = "bills"


class BillGate:
    def __init__(self, config: Config, store: Store, model: MachineModel, stream: EventStream,
                 faults: FaultRegistry, tasks: Supervisor) -> None:
        self._config = config
        self._store = store
        self._model = model
        self._stream = stream
        self._faults = faults
        self._tasks = tasks
        self.validator: MdbBillValidator | None = None
        self._wake = asyncio.Event()
        self._held = False
        self._done_seq = 0
        self.claim_open: Callable[[], bool] = lambda: False
        self.on_credit: Callable[[], Awaitable[None]] | None = None

    async def start(self, validator: MdbBillValidator) -> None:
        self.validator = validator
        validator.set_handlers(self._on_events, self._decide)
        await validator.start()
        self._tasks.spawn(self._sync_loop(), "bills-sync")
        self.dirty()

    def dirty(self) -> None:
        """The machine changed: bill types on or off to match."""
        self._wake.set()

    def refuse_from_now(self) -> None:
        self._held = True
        self.dirty()

    def _wanted(self) -> bool:
        return self._model.state in READY and not self._held and not self.claim_open()

    async def _sync_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.validator is None:
                continue
            try:
                await self.validator.set_enabled(self._wanted())
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("bill types not applied: %r", exc)
                await asyncio.sleep(0.5)
                self._wake.set()

    async def stop(self) -> None:
        """The machine stops: no bill taken, a bill in escrow given back."""
        self.refuse_from_now()
        if self.validator is not None:
            await self.validator.set_enabled(False)
            await self.validator.return_escrow()

    # --- escrow and credit ----------------------------------------------------------

    async def _decide(self, bill: int) -> bool:
        """Stack this bill? Only if the new panel credit is allowed and payable."""
        if not self._wanted():
            return False
        max_credit = self._config.machine.max_credit_cents

        def rule(db: sqlite_utils.Database) -> bool:
            credit = get_credit(db, PANEL) + bill
            return credit <= max_credit and money.make_change(
                credit, payout_inventory(db)) is not None

        stack = await self._store.run(rule)
        if not stack:
            await self._store.tx(lambda db: append_event(db, "bill_returned", bill=bill,
                                                         why="credit rule"))
        return stack

    async def _on_events(self, events: list[BillEvent]) -> None:
        """Each event once: the validator offers a batch again when this raised, so
        the events already acted on are skipped by their sequence number."""
        for event in events:
            if event.seq <= self._done_seq:
                continue
            await self._on_event(event)
            self._done_seq = event.seq

    async def _on_event(self, event: BillEvent) -> None:
        kind = event.kind
        if kind is BillEventKind.STACKED:
            cents = await self._store.tx(lambda db: credit_bill(db, event.value_cents, PANEL))
            self._done_seq = event.seq  # credited: never again, whatever follows
            self._stream.publish("credit", holder=PANEL, cents=cents)
            self._stream.publish("inventory")
            if self.on_credit is not None:
                await self.on_credit()
        elif kind in (BillEventKind.RETURNED, BillEventKind.REJECTED):
            await self._store.tx(lambda db: append_event(
                db, f"bill_{kind.value}", bill=event.value_cents, meaning=event.meaning))
        elif kind in (BillEventKind.FAULT, BillEventKind.LOST):
            what = event.meaning if kind is BillEventKind.FAULT else (
                f"bill validator not answering ({event.meaning}): check its cable and power")
            self._stream.publish("device", device=DEVICE, ok=False, error=what)
            await self._faults.report(f"bill validator: {what}", device=DEVICE, latched=False)
        elif kind in (BillEventKind.FAULT_CLEARED, BillEventKind.BACK):
            self._stream.publish("device", device=DEVICE, ok=True, error=None)
            await self._faults.heal(DEVICE, f"bill validator works again ({event.meaning})")
            self.dirty()

    def status_json(self) -> dict[str, object] | None:
        """The validator for ``GET /machine`` (None without one)."""
        v = self.validator
        if v is None:
            return None
        return {"state": v.state.value, "enabled": v.enabled, "fault": v.fault,
                "escrow": v.escrow_cents, "stackerFull": v.stacker_full,
                "stackerCount": v.stacker_count, "identity": v.identity.as_dict()}
