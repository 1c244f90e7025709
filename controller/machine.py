"""The Machine: owns the store, the devices, the FSM and the front panel.

Life cycle (construct without I/O, start, close in reverse, each step
isolated): open the store and seed it, build and start the devices, run boot
recovery, leave ``booting``, start the panel.  Every physical action runs as
a supervised task (``spawn``): an exception there goes through the one
``fault()`` path, which switches outputs off, inhibits the acceptor and puts
the machine out of service with a reason a technician can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from controller import audit, journal, money
from controller.config import Config
from controller.errors import NotFound, OutOfService, ValidationError, VendingError
from controller.events import EventStream
from controller.fsm import READY, MachineModel, State
from controller.ledger import read_ledger
from controller.panel import Panel, PanelSnapshot
from controller.panel_flow import panel_select
from controller.recovery import recover
from controller.sales import DepositClaim, SalesMixin
from controller.store import Store
from controller.store.db import append_event, seed
from drivers.base import Devices

log = logging.getLogger(__name__)
T = TypeVar("T")
VERSION = "0.1.0"
CLOSE_STEP_S = 3.0
SIM_CUSTOMER_WAIT_S = 5.0  # how long the simulated buyer waits at the machine


class SimHooks(Protocol):
    """What the Machine needs from a simulated machine (None on hardware)."""

    def load_spiral(self, slot: str, name: str, count: int) -> None: ...

    async def insert_for_claim(self, coin: int) -> str:
        """Put a coin in the simulated acceptor; "accepted" or why it was refused."""

    async def close(self) -> None: ...


DeviceBuilder = Callable[[], Awaitable[tuple[Devices, SimHooks | None]]]


class Machine(SalesMixin):
    def __init__(self, config: Config, db_path: str | Path, build_devices: DeviceBuilder) -> None:
        self.config = config
        self.db_path = Path(db_path)
        self.state_dir = self.db_path.parent
        self.stream = EventStream()  # every change, published once (controller/events.py)
        self.store = Store(self.db_path, on_events_committed=self._journal_grew)
        self.simulated = config.machine.simulated
        self.sim: Any = None  # the sim control facade, set by the simulated machine builder
        self._build_devices = build_devices
        self._sim_hooks: SimHooks | None = None
        self._published_state = State.BOOTING
        self.model = MachineModel(self._state_changed)
        self._mechanism = asyncio.Lock()
        self._claims: list[DepositClaim] = []
        self._coin_waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._faults: dict[str, str] = {}
        self._acceptor_wake = asyncio.Event()
        self._acceptor_synced = asyncio.Event()
        self._exact_change = False
        self._hold_coins = False  # an operator is counting coins: the acceptor stays shut
        self._started: list[Callable[[], Awaitable[None]]] = []
        self.panel: Panel | None = None
        self.vending_slot: str | None = None

    # --- life cycle ---------------------------------------------------------

    async def start(self) -> None:
        self.stream.bind_loop(asyncio.get_running_loop())
        await self.store.start()
        self._started.append(self.store.close)
        cfg = self.config
        await self.store.run(lambda db: seed(
            db.conn, slots=[(c, cfg.slots.capacity) for c in cfg.slots.codes],
            hoppers=cfg.hopper_capacity, hopper_fill=cfg.sim.hopper_fill))
        self.devices, self._sim_hooks = await self._build_devices()
        if self._sim_hooks is not None:
            self._started.append(self._sim_hooks.close)
        d = self.devices
        self._started.extend(d.extra_closers)
        d.acceptor.set_handler(self.on_coins)
        await d.spirals.start()
        self._started.append(d.spirals.close)
        for hopper in d.hoppers.values():
            await hopper.start()
            self._started.append(hopper.close)
        await self._start_front_panel()
        problems = await recover(self.store, d.hoppers)
        faults = await self.store.run(_load_faults)
        self._faults.update(faults)
        if faults:
            self._publish_faults()
        counter = await self.store.run(lambda db: journal.device_counter(db, d.acceptor.name))
        await d.acceptor.start(resume_counter=counter)
        self._started.append(d.acceptor.close)
        baseline = d.acceptor.event_counter
        if counter is None and baseline is not None:
            await self.store.tx(lambda db: journal.set_device_counter(db, d.acceptor.name,
                                                                      baseline))
        self.spawn(self._acceptor_loop(), "acceptor-sync")
        self.model.panel_credit_cents = await self.store.run(
            lambda db: journal.get_credit(db, journal.PANEL))
        await self._refresh_exact_change()
        if self._faults:
            await self.model.fire("fault")
        else:
            await self.model.fire("booted")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.acceptor_synced(), CLOSE_STEP_S)
        for problem in problems:
            log.warning("recovery: %s", problem)

    async def _start_front_panel(self) -> None:
        d = self.devices
        await d.display.start()
        self._started.append(d.display.close)
        self.panel = Panel(d.display, self.panel_snapshot, self.panel_select,
                           self.panel_coin_return, on_show=self._display_shows)
        self.panel.start()
        self._started.append(self.panel.close)
        d.keypad.set_handler(self.panel.key)
        await d.keypad.start()
        self._started.append(d.keypad.close)

    async def close(self) -> None:
        """Stop everything in reverse order; each step isolated and bounded."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            _done, stuck = await asyncio.wait(list(self._tasks), timeout=CLOSE_STEP_S)
            for task in stuck:
                log.error("task %s did not stop when cancelled", task.get_name())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.devices.spirals.stop_all(), CLOSE_STEP_S)
        while self._started:
            closer = self._started.pop()
            try:
                await asyncio.wait_for(closer(), CLOSE_STEP_S)
            except Exception:
                log.exception("close step failed")

    def spawn(self, coro: Coroutine[Any, Any, T] | Awaitable[T], name: str) -> asyncio.Task[T]:
        """Run ``coro`` as a supervised task: an unexpected error faults the machine."""
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None or (isinstance(exc, VendingError) and (
                exc.status < 500 or isinstance(exc, OutOfService))):
            return
        log.error("task %s failed: %r", task.get_name(), exc)
        if task.get_name() != "fault":  # a failing fault path must not call itself forever
            self.spawn(self.fault(f"internal error in {task.get_name()}: {exc!r}"), "fault")

    # --- state, acceptor, faults ------------------------------------------

    def _state_changed(self, state: State) -> None:
        previous, self._published_state = self._published_state, state
        self.stream.publish("state", state=state.value, previous=previous.value)
        self.acceptor_dirty()
        self.panel_refresh()

    def _journal_grew(self, last_id: int) -> None:
        # After the events its caller publishes for the same commit (vend, payout...).
        asyncio.get_running_loop().call_soon(
            functools.partial(self.stream.publish, "journal", lastId=last_id))

    def _display_shows(self, line1: str, line2: str) -> None:
        self.stream.publish("display", lines=[line1, line2])

    def _publish_faults(self) -> None:
        self.stream.publish("faults", faults=[
            {"device": device, "reason": reason, "latched": True}
            for device, reason in self._faults.items()])

    def acceptor_dirty(self) -> None:
        self._acceptor_synced.clear()
        self._acceptor_wake.set()

    def panel_refresh(self) -> None:
        if self.panel is not None:
            self.panel.refresh()

    async def _wanted_acceptor(self) -> tuple[bool, set[int]]:
        """Accepting, and which coins: the acceptance rule for whoever gets the next coin."""
        if self.model.state not in READY or self._hold_coins:
            return False, set()
        claims = list(self._claims)
        max_credit = self.config.machine.max_credit_cents

        def rule(db: Any) -> set[int]:
            payout = journal.payout_inventory(db)
            capacity = journal.hopper_capacity(db)
            if claims:
                out = set()
                for c in claims:
                    credit = journal.find_credit(db, journal.user_holder(c.user_id))
                    if credit is None:
                        continue  # the account went while its coin was awaited
                    if money.coin_acceptable(c.coin, credit, max_credit=max_credit,
                                             payout=payout, capacity=capacity):
                        out.add(c.coin)
                return out
            credit = journal.get_credit(db, journal.PANEL)
            return {c for c in money.COINS_CENTS if money.coin_acceptable(
                c, credit, max_credit=max_credit, payout=payout, capacity=capacity)}

        coins = await self.store.run(rule)
        return bool(coins), coins

    async def _acceptor_loop(self) -> None:
        acceptor = self.devices.acceptor
        while True:
            await self._acceptor_wake.wait()
            self._acceptor_wake.clear()
            try:
                accepting, coins = await self._wanted_acceptor()
                if coins:
                    await acceptor.set_coins_enabled(coins)
                await acceptor.set_accepting(accepting)
            except Exception as exc:  # this loop must outlive any one failure
                log.warning("acceptor inhibit not applied: %r", exc)
                await asyncio.sleep(0.5)
                self._acceptor_wake.set()
                continue
            await self._refresh_exact_change()
            if not self._acceptor_wake.is_set():
                self._acceptor_synced.set()

    async def acceptor_synced(self) -> None:
        """Wait until the acceptor's inhibits match the machine's wishes."""
        await self._acceptor_synced.wait()

    async def _refresh_exact_change(self) -> None:
        exact = await self.store.run(
            lambda db: money.exact_change_only(journal.payout_inventory(db)))
        if exact != self._exact_change:
            self._exact_change = exact
            self.panel_refresh()

    async def fault(self, reason: str, *, device: str = "machine") -> None:
        """The one fault path: outputs off, acceptor inhibited, out of service."""
        log.error("FAULT %s: %s", device, reason)
        changed = self._faults.get(device) != reason
        self._faults[device] = reason
        if changed:
            self._publish_faults()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.devices.spirals.stop_all(), CLOSE_STEP_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.devices.acceptor.set_accepting(False), CLOSE_STEP_S)
        faults = dict(self._faults)
        await self.store.tx(lambda db: _save_faults(db, faults, device, reason))
        if self.model.state is not State.OUT_OF_SERVICE:
            await self.model.fire("fault")
        self.panel_refresh()

    async def clear_faults(self, devices: list[str] | None = None) -> None:
        before = len(self._faults)
        for device in devices if devices is not None else list(self._faults):
            self._faults.pop(device, None)
        if len(self._faults) != before:
            self._publish_faults()
        faults = dict(self._faults)
        await self.store.tx(lambda db: _save_faults(db, faults, "operator", "cleared"))
        if not self._faults and self.model.state is State.OUT_OF_SERVICE:
            await self.model.fire("recovered")

    @property
    def faults(self) -> dict[str, str]:
        return dict(self._faults)

    # --- front panel --------------------------------------------------------

    def panel_snapshot(self) -> PanelSnapshot:
        return PanelSnapshot(self.model.state, self.model.panel_credit_cents,
                             self._exact_change, self.vending_slot,
                             next(iter(self._faults.values()), None),
                             coin_return_ok=self.payback_possible())

    def payback_possible(self) -> bool:
        """Out of service, the hoppers may still pay credit back: not when a hopper
        or the machine itself is at fault (an acceptor or a slot fault is fine)."""
        return not any(device == "machine" or device.startswith("hopper")
                       for device in self._faults)

    def panel_select(self, slot: str) -> None:
        self.spawn(self._panel_select(slot), f"panel-select-{slot}")

    def panel_coin_return(self) -> None:
        self.spawn(self._panel_coin_return(), "panel-coin-return")

    def _flash(self, line1: str, line2: str = "") -> None:
        if self.panel is not None:
            self.panel.flash(line1, line2)

    async def _panel_select(self, slot: str) -> None:
        await panel_select(self, slot)

    async def _panel_coin_return(self) -> None:
        if self.model.panel_credit_cents <= 0:
            return
        try:
            coins, unpaid = await self.pay_back(journal.PANEL, "coin_return",
                                                even_out_of_service=True)
        except VendingError as exc:
            self._flash(*_panel_error(exc))
            return
        if unpaid:
            self._flash("CHANGE SHORT", f"OWED {money.format_cents(unpaid)}")
        elif coins:
            self._flash("TAKE YOUR COINS", money.format_cents(sum(coins)))

    # --- API facade: stock and maintenance ---------------------------------

    async def stock_changed(self, product: dict[str, Any] | None, slot: str) -> None:
        """After a product change: the simulated operator loads the spiral to match."""
        if self._sim_hooks is not None:
            if product is None:
                self._sim_hooks.load_spiral(slot, "", 0)
            else:
                self._sim_hooks.load_spiral(str(product["slot"]), str(product["productName"]),
                                            int(product["amountAvailable"]))
        self.stream.publish("stock", slot=slot)
        self.acceptor_dirty()

    async def claim_arrives(self, claim: DepositClaim) -> None:
        if self._sim_hooks is None:
            return
        hooks = self._sim_hooks

        async def insert() -> None:
            # The simulated buyer puts the coin in once.  A coin the acceptor
            # refuses (jam, inhibit) never arrives: the claim then waits, like
            # on hardware, for its full time or a coin from /sim/coin.
            async with self._mechanism:
                self._require_in_service()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.acceptor_synced(), SIM_CUSTOMER_WAIT_S)
                if await hooks.insert_for_claim(claim.coin) != "accepted":
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(claim.done), SIM_CUSTOMER_WAIT_S)

        await asyncio.shield(self.spawn(insert(), "sim-deposit"))

    async def state_json(self) -> dict[str, Any]:
        def read(db: Any) -> dict[str, Any]:
            slots = []
            for row in db.conn.execute(
                "SELECT s.code, s.capacity, s.status, s.status_reason, p.id FROM slots s "
                "LEFT JOIN products p ON p.slot = s.code ORDER BY s.position"
            ):
                product = journal.product_json(journal.product_row(db, int(row[4]))) \
                    if row[4] is not None else None
                slots.append({"slot": row[0], "capacity": int(row[1]), "status": row[2],
                              "reason": row[3], "product": product})
            return {"coins": journal.inventory_json(db), "slots": slots,
                    "panelCredit": journal.get_credit(db, journal.PANEL),
                    "ledgerBalanced": read_ledger(db).balanced}

        data = await self.store.run(read)
        return {"state": self.model.state.value,
                "faults": [{"device": k, "reason": v} for k, v in self._faults.items()],
                "acceptor": {"accepting": self.devices.acceptor.accepting},
                "exactChangeOnly": self._exact_change, "simulated": self.simulated, **data}

    async def set_hopper(self, coin: int, payout: int) -> dict[str, Any]:
        money.validate_coin(coin)
        capacity = self.config.hopper_capacity.get(coin)
        if capacity is None:
            raise NotFound(f"there is no {coin}c hopper")
        if not money.is_int(payout) or not 0 <= payout <= capacity:
            raise ValidationError(f"payout must be an integer 0..{capacity}",
                                  fields={"payout": f"0..{capacity}"})
        async with self._mechanism, self._coins_held():
            await self.store.tx(lambda db: journal.adjust_hopper(db, coin, payout))
            if self._sim_hooks is not None and hasattr(self._sim_hooks, "set_hopper"):
                self._sim_hooks.set_hopper(coin, payout)
        self.stream.publish("inventory")
        if f"hopper:{coin}" in self._faults:
            await self.clear_faults([f"hopper:{coin}"])
        self.acceptor_dirty()
        inventory = await self.store.run(journal.inventory_json)
        this = next(entry for entry in inventory if entry["coin"] == coin)
        return {**this, "coins": inventory}

    async def collect_cashbox(self) -> int:
        async with self._mechanism, self._coins_held():
            value = await self.store.tx(journal.collect_cashbox)
            if self._sim_hooks is not None and hasattr(self._sim_hooks, "empty_cashbox"):
                self._sim_hooks.empty_cashbox()
        self.stream.publish("inventory")
        return value

    @contextlib.asynccontextmanager
    async def _coins_held(self) -> AsyncIterator[None]:
        """No coin moves meanwhile: the acceptor is inhibited, and a coin it took
        just before is credited first, so an operator's count is not overtaken."""
        self._hold_coins = True
        self.acceptor_dirty()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.acceptor_synced(), CLOSE_STEP_S)
            await asyncio.sleep(2 * self.config.acceptor.poll_interval_s)  # a last poll
            yield
        finally:
            self._hold_coins = False
            self.acceptor_dirty()

    def quiet(self) -> asyncio.Lock:
        """Hold it and no vend or payout runs: for catalog and account changes."""
        return self._mechanism

    def has_open_claim(self, user_id: int) -> bool:
        """A deposit of this account is awaited at the coin slot."""
        return any(c.user_id == user_id and not c.done.done() for c in self._claims)

    async def set_service(self, enabled: bool) -> dict[str, Any]:
        if enabled and self.model.state is not State.SERVICE:
            async with self._mechanism:
                await self.model.fire("enter_service")
                await self.store.tx(lambda db: append_event(db, "service", enabled=True))
        elif not enabled and self.model.state is State.SERVICE:
            await self.clear_faults()
            slots = await self.store.tx(_clear_slot_checks)
            for slot in slots:
                self.stream.publish("stock", slot=slot)
            self.model.panel_credit_cents = await self.store.run(
                lambda db: journal.get_credit(db, journal.PANEL))
            await self.model.fire("leave_service")
            await self.store.tx(lambda db: append_event(db, "service", enabled=False,
                                                        slots_cleared=len(slots)))
        return await self.state_json()

    async def events(self, after: int, limit: int) -> list[dict[str, Any]]:
        return await self.store.run(lambda db: journal.events_after(db, after, limit))

    async def audit_text(self) -> str:
        cfg = self.config
        data = await self.store.run(lambda db: audit.collect(
            db, machine_id=cfg.machine.machine_id, model=cfg.machine.model,
            software_version=VERSION, currency=cfg.machine.currency,
            currency_code=cfg.machine.currency_code, rows=cfg.slots.rows))
        return audit.render(data)

    def health(self) -> dict[str, Any]:
        state = self.model.state
        status = {State.OUT_OF_SERVICE: "out_of_service", State.BOOTING: "starting",
                  State.SERVICE: "service"}.get(state, "ok")
        return {"status": status, "state": state.value}


def _panel_error(exc: VendingError) -> tuple[str, str]:
    return ("OUT OF SERVICE", "SORRY") if isinstance(exc, OutOfService) else ("PLEASE WAIT", "")


def _load_faults(db: Any) -> dict[str, str]:
    row = db.conn.execute("SELECT value FROM meta WHERE key = 'faults'").fetchone()
    return {str(k): str(v) for k, v in json.loads(row[0]).items()} if row else {}


def _save_faults(db: Any, faults: dict[str, str], device: str, reason: str) -> None:
    db.conn.execute("INSERT INTO meta (key, value) VALUES ('faults', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (json.dumps(faults),))
    append_event(db, "fault" if reason != "cleared" else "faults_cleared", device=device,
                 reason=reason)


def _clear_slot_checks(db: Any) -> list[str]:
    """Leaving service mode: the operator has checked every flagged slot and hopper."""
    db.conn.execute("DELETE FROM meta WHERE key = 'hopper_faults'")
    slots = [str(r[0]) for r in db.conn.execute("SELECT code FROM slots WHERE status != 'ok'")]
    db.conn.execute("UPDATE slots SET status = 'ok', status_reason = NULL WHERE status != 'ok'")
    return slots
