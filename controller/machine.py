"""The Machine: its parts, wired together, and their life cycle.

Parts, each a class with its dependencies passed in:

- ``faults``     the fault registry and the one fault path (``controller.faults``)
- ``coin_gate``  inhibits, deposit claims, coins credited (``controller.payment.coin_gate``)
- ``sales``      credit, vend, change; payment media (``controller.sale.sales``)
- ``front_panel`` keys in, LCD out (``controller.panel.flow``)
- ``products``, ``accounts``, ``maintenance``  what the API and CLI call
- ``round_report``  sales and the pick list, the operator's round (``controller.ops``)

Life cycle (construct without I/O, start, close in reverse, each step
isolated): open the store and seed it, open the hardware and build the
devices from the config (``controller.devices``), run boot recovery, leave
``booting``, start the panel.  Every physical action runs as a supervised
task; an unexpected error there goes through the one fault path.  Every
change is published once on ``stream`` (``controller.events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from controller.accounts.service import AccountService
from controller.catalog.service import ProductService
from controller.config import Config
from controller.devices import build_devices
from controller.errors import OutOfService, VendingError
from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.fsm import MachineModel, State
from controller.hardware import Hardware, SimControl
from controller.ops.audit_devices import device_audit
from controller.ops.maintenance import Maintenance
from controller.ops.round_report import RoundReport
from controller.panel.flow import FrontPanel
from controller.payment import device_identity
from controller.payment.bill_gate import BillGate
from controller.payment.card_desk import CardDesk
from controller.payment.coin_gate import CoinGate
from controller.payment.hopper_watch import HopperWatch, hopper_device
from controller.payment.mdb_status import mdb_state
from controller.recovery import recover
from controller.sale.mechanism import Mechanism
from controller.sale.payout import ChangePayer
from controller.sale.sales import Sales
from controller.store import Store
from controller.store.credit import PANEL
from controller.store.db import seed
from controller.store.event_log import last_event_id
from controller.tasks import Supervisor
from drivers.base import Devices
from drivers.errors import HardwareError
from drivers.heartbeat import Heartbeat
from drivers.mdb.cashless import MdbCashlessReader

log = logging.getLogger(__name__)
CLOSE_STEP_S = 3.0
SETTLE_TIMEOUT_S = 15.0


class Machine:
    def __init__(self, config: Config, db_path: str | Path, hardware: Hardware, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.db_path = Path(db_path)
        self.state_dir = self.db_path.parent
        self.simulated = config.machine.simulated
        self.sim: SimControl | None = None  # the /sim/* facade; a simulated machine sets it
        self._hardware = hardware
        self.stream = EventStream()  # every change, published once (controller/events.py)
        self.store = Store(self.db_path, on_events_committed=self._journal_grew)
        self.model = MachineModel(self._state_changed)
        self._published_state = State.BOOTING
        self.tasks = Supervisor(self._task_failed)
        self.faults = FaultRegistry(self.store, self.model, self.stream)
        self.mechanism = Mechanism(self.model, self.tasks, self.faults.payback_possible)
        self.hopper_watch = HopperWatch(self.store, self.faults, self.mechanism)
        self.coin_gate = CoinGate(config, self.store, self.model, self.stream, self.faults,
                                  self.tasks, self.mechanism)
        self.bill_gate = BillGate(config, self.store, self.model, self.stream, self.faults,
                                  self.tasks)
        self._payer = ChangePayer(self.store, self.model, self.stream, self.faults,
                                  self._changed)
        self.sales = Sales(self.store, self.model, self.stream, self.mechanism, self._payer,
                           self._changed, clock=clock)
        self.front_panel = FrontPanel(config, self.model, self.stream, self.tasks,
                                      self.faults, self.coin_gate, self.sales)
        self.products = ProductService(self.store, self.mechanism.quiet(), self._stock_changed,
                                       self.stream,
                                       max_slots_per_seller=config.api.max_slots_per_seller)
        self.accounts = AccountService(self.store, self.mechanism.quiet(),
                                       self.coin_gate.has_open_claim, self.stream)
        self.maintenance = Maintenance(config, self.store, self.model, self.stream,
                                       self.mechanism, self.faults, self.coin_gate, self.sales,
                                       hardware)
        self.maintenance.device_audit = lambda: device_audit(self.devices)
        self.round_report = RoundReport(self.store, clock)
        self._wire()
        self._closers: list[Callable[[], Awaitable[Any]]] = []
        self.devices: Devices | None = None
        self.card_desk: CardDesk | None = None  # a card reader, when the config has one

    def _wire(self) -> None:
        gate = self.coin_gate
        gate.customer = self._hardware.customer
        gate.on_credit = self.sales.refresh_panel_credit
        gate.on_refused = self.front_panel.coin_refused
        gate.on_exact_change = self.front_panel.refresh
        gate.on_claim = self.front_panel.refresh
        self.faults.add_safety_handler("acceptor inhibited", gate.inhibit, device="acceptor")
        self.sales.on_slot_fault = self._slot_failed
        self.hopper_watch.on_credit = self.sales.refresh_panel_credit
        self.bill_gate.on_credit = self.sales.refresh_panel_credit
        self.bill_gate.claim_open = lambda: gate.claim_cents is not None

    async def _slot_failed(self, slot: str, outcome: str) -> None:
        """A failed vend: that slot is out of order until an operator checks it
        (goods may be stuck in the spiral), the machine sells the others."""
        await self.faults.report(f"slot {slot} failed to vend ({outcome}): check the spiral "
                                 "and the drop sensor, then leave service mode",
                                 device=f"slot:{slot}", latched=True)

    # --- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        self.stream.bind_loop(asyncio.get_running_loop())
        await self.store.start()
        self._closers.append(self.store.close)
        database_id = await self._seed()
        ports = await self._hardware.open(database_id)
        self._closers.append(self._hardware.close)
        self.devices = d = await build_devices(self.config, ports)
        self._closers.extend(d.extra_closers)
        await self.faults.load()
        await self._start_outputs(d)
        await self.front_panel.start(d.display, d.keypad, self._closers)
        found = await recover(self.store, self.hopper_watch.present())
        await self.hopper_watch.report_found(found)
        await self._start_card_reader(d.card_reader)  # told its open vends first
        self._closers.append(d.acceptor.close)
        await self.coin_gate.start(d.acceptor)
        await device_identity.record(self.store, d.acceptor, d.hoppers)
        if d.bills is not None:
            self._closers.append(d.bills.close)
            await self.bill_gate.start(d.bills)
        self.model.panel_credit_cents = await self.sales.credit_of(PANEL)
        await self.coin_gate.refresh_exact_change()
        await self.model.fire("fault" if self.faults.stops_machine() else "booted")
        self.tasks.spawn(self.hopper_watch.run(), "hopper-watch")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.coin_gate.synced(), CLOSE_STEP_S)
        for problem in found.problems:
            log.warning("recovery: %s", problem)

    async def _start_card_reader(self, reader: MdbCashlessReader | None) -> None:
        """The card reader's life cycle: it settles its open card vends before it is
        reset or enabled (``controller.payment.card_desk``)."""
        if reader is None:
            return
        desk = self.card_desk = CardDesk(self.store, self.stream, self.faults,
                                         self.sales.card_vends, reader)
        desk.changed = self._changed
        self.front_panel.card = desk
        await desk.start()
        self._closers.append(desk.close)

    async def _seed(self) -> str | None:
        cfg = self.config

        def run(db: sqlite_utils.Database) -> str | None:
            seed(db.conn, slots=[(c, cfg.slots.capacity) for c in cfg.slots.codes],
                 hoppers=cfg.hopper_capacity, hopper_fill=cfg.sim.hopper_fill)
            row = db.conn.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
            return str(row[0]) if row else None

        return await self.store.run(run)

    async def _start_outputs(self, d: Devices) -> None:
        """Spirals and hoppers: started off, and stopped by the fault path."""
        await d.spirals.start()
        self._closers.append(d.spirals.close)
        self.sales.spirals = d.spirals
        self.faults.add_safety_handler("spirals stopped", d.spirals.stop_all, device="slot")
        for coin, hopper in d.hoppers.items():
            self._closers.append(hopper.close)
            self.faults.add_safety_handler(f"hopper {coin}c stopped", hopper.emergency_stop,
                                           device=hopper_device(coin))
        await self.hopper_watch.start_all(d.hoppers)
        self._payer.hoppers = dict(d.hoppers)

    async def close(self) -> None:
        """Stop everything in reverse order; each step isolated and bounded."""
        await self.tasks.cancel_all(CLOSE_STEP_S)
        if self.devices is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.devices.spirals.stop_all(), CLOSE_STEP_S)
        while self._closers:
            closer = self._closers.pop()
            try:
                await asyncio.wait_for(closer(), CLOSE_STEP_S)
            except (HardwareError, TimeoutError) as exc:  # a device gone: expected
                log.warning("close step %s: %r", getattr(closer, "__qualname__", closer), exc)
            except Exception:
                log.exception("close step failed")

    async def wind_down(self, timeout_s: float) -> None:
        """Before ``close`` on SIGTERM: refuse coins from now on and let a running
        vend or payout end and settle its journal (bounded; what does not end in
        time is stopped by ``close`` and settled by boot recovery)."""
        self.coin_gate.refuse_from_now()
        with contextlib.suppress(Exception):  # a bill in escrow goes back to the customer
            await asyncio.wait_for(self.bill_gate.stop(), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.mechanism.quiet().acquire(), timeout_s)
            # held until the process ends: no new vend or payout starts
        with contextlib.suppress(TimeoutError):  # the acceptor told to refuse, loop at rest
            await asyncio.wait_for(self.acceptor_synced(), 1.0)

    def _task_failed(self, name: str, exc: BaseException) -> None:
        if isinstance(exc, VendingError) and (exc.status < 500 or isinstance(exc, OutOfService)):
            return
        log.error("task %s failed: %r", name, exc)
        if name != "fault":  # a failing fault path must not call itself forever
            self.tasks.spawn(self.faults.report(f"internal error in {name}: {exc!r}"), "fault")

    # --- what follows the machine ----------------------------------------------

    def _state_changed(self, state: State) -> None:
        previous, self._published_state = self._published_state, state
        self.stream.publish("state", state=state.value, previous=previous.value)
        self._changed()

    def _changed(self) -> None:
        """State, credit or stock moved: the acceptor and the LCD follow."""
        self.coin_gate.dirty()
        self.bill_gate.dirty()
        self.front_panel.refresh()

    def _journal_grew(self, last_id: int) -> None:
        # After the events its caller publishes for the same commit (vend, payout...).
        asyncio.get_running_loop().call_soon(
            functools.partial(self.stream.publish, "journal", lastId=last_id))

    def _stock_changed(self, product: dict[str, Any] | None, slot: str) -> None:
        """After a product change: the spiral is loaded to match (by the operator)."""
        if product is None:
            self._hardware.spiral_loaded(slot, "", 0)
        else:
            self._hardware.spiral_loaded(str(product["slot"]), str(product["productName"]),
                                         int(product["amountAvailable"]))
        self.stream.publish("stock", slot=slot)
        self.coin_gate.dirty()

    # --- for the sim control, tests and pages (public, read-mostly) -------------

    @property
    def fsm_state(self) -> str:
        return self.model.state.value

    def quiet(self) -> asyncio.Lock:
        """Hold it and no vend or payout runs."""
        return self.mechanism.quiet()

    def require_in_service(self) -> None:
        self.mechanism.require_in_service()

    def next_coin_credited(self) -> asyncio.Future[None]:
        """Resolved when the acceptor's next batch of coins has been credited."""
        return self.coin_gate.next_coin_credited()

    async def panel_credit(self) -> int:
        return await self.sales.credit_of(PANEL)

    def card_present(self) -> bool:
        """A card session is open at the reader (as the machine knows it)."""
        return self.card_desk is not None and self.card_desk.session is not None

    async def acceptor_synced(self) -> None:
        """Wait until the acceptor's inhibits match the machine's wishes."""
        await self.coin_gate.synced()

    async def settled(self, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Wait until the machine has finished what the last action started."""
        deadline = time.monotonic() + timeout_s
        await asyncio.sleep(0.02)  # a key press or coin just handed over starts its action
        while time.monotonic() < deadline:
            if not self.tasks.busy and not self.mechanism.busy:
                return
            await asyncio.sleep(0.02)

    # --- the API's calls -------------------------------------------------------

    async def deposit(self, user_id: int, coin: int) -> int:
        return await self.coin_gate.deposit(user_id, coin)

    async def buy(self, user_id: int, product_id: int, amount: int) -> dict[str, Any]:
        return await self.sales.buy(user_id, product_id, amount)

    async def reset(self, user_id: int) -> list[int]:
        return await self.sales.reset(user_id)

    async def state_json(self) -> dict[str, Any]:
        d = self.devices
        state = await self.maintenance.state_json()
        state = {**state, **await mdb_state(d, self.bill_gate)}
        if self.card_desk is not None:
            state["reader"] = await self.card_desk.state_json()
        return device_identity.with_identities(state, d.acceptor if d else None,
                                               d.hoppers if d else {})

    async def set_hopper(self, coin: int, payout: int) -> dict[str, Any]:
        return await self.maintenance.set_hopper(coin, payout)

    async def collect_cashbox(self) -> int:
        return await self.maintenance.collect_cashbox()

    async def set_service(self, enabled: bool) -> dict[str, Any]:
        return await self.maintenance.set_service(enabled)

    async def events(self, after: int, limit: int) -> list[dict[str, Any]]:
        return await self.maintenance.events(after, limit)

    async def coin_inventory(self) -> list[dict[str, Any]]:
        return await self.maintenance.coin_inventory()

    async def last_event_id(self) -> int:
        """The newest row of the event log (0 when it is empty)."""
        return await self.store.run(last_event_id)

    async def credit_outstanding(self) -> int:
        return await self.maintenance.credit_outstanding()

    def heartbeats(self) -> list[Heartbeat]:
        """The device loops' heartbeats (the watchdog checks they are alive)."""
        beats = self.devices.heartbeats() if self.devices is not None else []
        if self.card_desk is not None:
            beats.append(self.card_desk.reader.heartbeat)
        return beats

    async def audit_text(self) -> str:
        return await self.maintenance.audit_text()

    async def sales_report(self, days: int) -> dict[str, Any]:
        return await self.round_report.sales(days)

    async def picklist(self) -> dict[str, Any]:
        return await self.round_report.picklist()

    def health(self) -> dict[str, Any]:
        return self.maintenance.health()
