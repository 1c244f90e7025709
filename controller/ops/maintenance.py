"""An operator's work on the machine: refills, cashbox, service mode, reports.

A coin count (hopper refill, cashbox collection) holds the mechanism and the
coin gate shut, so no coin moves while the operator counts.  Leaving service
mode clears every fault and every slot flagged for a check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from controller import money
from controller.config import Config
from controller.errors import CountedByChanger, NotFound, ValidationError
from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.fsm import MachineModel, State
from controller.hardware import Hardware
from controller.ops import audit
from controller.ops.ledger import read_ledger
from controller.payment.coin_gate import CoinGate
from controller.sale.mechanism import Mechanism
from controller.sale.sales import Sales
from controller.store import Store
from controller.store.counters import count_event
from controller.store.credit import PANEL, get_credit
from controller.store.event_codes import DOOR_OPEN
from controller.store.event_log import append_event, events_after
from controller.store.inventory import adjust_hopper, collect_cashbox, inventory_json
from controller.store.products import clear_slot_checks, slots_json
from controller.version import VERSION


def _service_entered(db: sqlite_utils.Database) -> None:
    """Service mode is the machine's door open (EVA-DTS event ``EGS``)."""
    count_event(db, DOOR_OPEN)
    append_event(db, "service", enabled=True)


class Maintenance:
    def __init__(self, config: Config, store: Store, model: MachineModel, stream: EventStream,
                 mechanism: Mechanism, faults: FaultRegistry, coin_gate: CoinGate,
                 sales: Sales, hardware: Hardware) -> None:
        self._config = config
        self._store = store
        self._model = model
        self._stream = stream
        self._mechanism = mechanism
        self._faults = faults
        self._coin_gate = coin_gate
        self._sales = sales
        self._hardware = hardware
        # the MDB payment devices' identities for the report (set by the machine)
        self.device_audit: Callable[[], dict[str, tuple[str, str, str]]] | None = None

    async def state_json(self) -> dict[str, Any]:
        def read(db: sqlite_utils.Database) -> dict[str, Any]:
            return {"coins": inventory_json(db), "slots": slots_json(db),
                    "panelCredit": get_credit(db, PANEL),
                    "ledgerBalanced": read_ledger(db).balanced}

        data = await self._store.run(read)
        return {"state": self._model.state.value, "faults": self._faults.as_json(),
                "acceptor": {"accepting": self._coin_gate.accepting},
                "exactChangeOnly": self._coin_gate.exact_change_only,
                "simulated": self._config.machine.simulated, **data}

    async def set_hopper(self, coin: int, payout: int) -> dict[str, Any]:
        money.validate_coin(coin)
        if self._config.acceptor.kind == "mdb":
            raise CountedByChanger(f"the {coin}c tube is counted by the coin changer: fill it "
                                   "by inserting coins in service mode")
        capacity = self._config.hopper_capacity.get(coin)
        if capacity is None:
            raise NotFound(f"there is no {coin}c hopper")
        if not money.is_int(payout) or not 0 <= payout <= capacity:
            raise ValidationError(f"payout must be an integer 0..{capacity}",
                                  fields={"payout": f"0..{capacity}"})
        async with self._mechanism.quiet(), self._coin_gate.coins_held():
            await self._store.tx(lambda db: adjust_hopper(db, coin, payout))
            self._hardware.hopper_counted(coin, payout)
        self._stream.publish("inventory")
        if f"hopper:{coin}" in self._faults.active:
            await self._faults.clear([f"hopper:{coin}"])
        self._coin_gate.dirty()
        inventory = await self._store.run(inventory_json)
        this = next(entry for entry in inventory if entry["coin"] == coin)
        return {**this, "coins": inventory}

    async def collect_cashbox(self) -> int:
        async with self._mechanism.quiet(), self._coin_gate.coins_held():
            value = await self._store.tx(collect_cashbox)
            self._hardware.cashbox_emptied()
        self._stream.publish("inventory")
        return value

    async def set_service(self, enabled: bool) -> dict[str, Any]:
        if enabled and self._model.state is not State.SERVICE:
            async with self._mechanism.quiet():
                await self._model.fire("enter_service")
                await self._store.tx(_service_entered)
        elif not enabled and self._model.state is State.SERVICE:
            await self._leave_service()
        return await self.state_json()

    async def _leave_service(self) -> None:
        await self._faults.clear()
        slots = await self._store.tx(clear_slot_checks)
        for slot in slots:
            self._stream.publish("stock", slot=slot)
        self._model.panel_credit_cents = await self._sales.credit_of(PANEL)
        await self._model.fire("leave_service")
        await self._store.tx(lambda db: append_event(db, "service", enabled=False,
                                                     slots_cleared=len(slots)))

    async def coin_inventory(self) -> list[dict[str, Any]]:
        return await self._store.run(inventory_json)

    async def credit_outstanding(self) -> int:
        """Deposits, panel credit and what vends and payouts in flight hold."""
        ledger = await self._store.run(read_ledger)
        return ledger.outstanding

    async def events(self, after: int, limit: int) -> list[dict[str, Any]]:
        return await self._store.run(lambda db: events_after(db, after, limit))

    async def audit_text(self) -> str:
        """The EVA-DTS report; every call is a read (counted, ``EA309``)."""
        now, in_service = time.time(), self._model.state is State.SERVICE
        devices = self.device_audit() if self.device_audit is not None else None
        return await self._store.tx(lambda db: audit.read_report(
            db, self._config, now=now, software_version=VERSION, in_service=in_service,
            devices=devices))

    def health(self) -> dict[str, Any]:
        state = self._model.state
        status = {State.OUT_OF_SERVICE: "out_of_service", State.BOOTING: "starting",
                  State.SERVICE: "service"}.get(state, "ok")
        health: dict[str, Any] = {"status": status, "state": state.value}
        if self._faults.active:  # what is out and why (only then: the contract stays)
            health["faults"] = self._faults.as_json()
        return health
