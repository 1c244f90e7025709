"""The machine's Prometheus metrics, fed from its event stream.

``MachineMetrics`` subscribes to ``machine.stream`` (controller/events.py) and
turns events into counters and gauges; it never polls.  Counters count what
happened since this process started (Prometheus takes a restart as a counter
reset); the lifetime figures are in the EVA-DTS audit.  Gauges that an event
only says changed (coins in hoppers and cashbox, outstanding credit) are
re-read from the store when that event comes, and everything is re-read after
a ``resync`` (the subscriber fell behind).

Families (DESIGN.md, Observability): ``vending_coins_accepted_total{coin}``,
``vending_vends_total{slot,result}``, ``vending_payout_coins_total{coin}``,
``vending_hopper_coins{coin}``, ``vending_cashbox_coins{coin}``,
``vending_credit_outstanding_cents``, ``vending_state{state}``,
``vending_fault{device}``, ``vending_device_errors_total{device}``,
card sales (``vending_card_vends_total{told}``, ``vending_card_sales_cents_total``,
``vending_card_refunds_owed_cents_total``, ``vending_card_present``),
``vending_slot_units{slot}`` and ``vending_slot_min_level{slot}`` (the stock of each
slot that holds a product, and the level at which it counts as low),
``vending_http_request_duration_seconds{method,route,status}`` and the
process, platform and garbage-collector collectors of prometheus-client, all
in a registry of this app's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.exposition import generate_latest

from api.facade import MachineFacade
from controller.events import MachineEvent
from controller.fsm import State

log = logging.getLogger(__name__)
MONEY_KINDS = frozenset({"credit", "vend", "payout", "coin"})
VEND_RESULTS = ("paid", "failed")  # a vend event's results (controller/events.py)
MAX_HTTP_SERIES = 512  # routes are templates and methods few: a bound, not a limit in use


class MachineMetrics:
    """Counters and gauges of one machine, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            with contextlib.suppress(ValueError):
                registry.register(collector)
        self.coins_accepted = Counter("vending_coins_accepted", "Coins credited, by value",
                                      ["coin"], registry=registry)
        self.vends = Counter("vending_vends", "Vends ended, by slot and result",
                             ["slot", "result"], registry=registry)
        self.payout_coins = Counter("vending_payout_coins", "Coins paid out, by value",
                                    ["coin"], registry=registry)
        self.hopper_coins = Gauge("vending_hopper_coins", "Coins in each hopper",
                                  ["coin"], registry=registry)
        self.cashbox_coins = Gauge("vending_cashbox_coins", "Coins in the cashbox, by value",
                                   ["coin"], registry=registry)
        self.credit_outstanding = Gauge(
            "vending_credit_outstanding_cents",
            "Credit owed to customers: deposits, panel credit, vends and payouts in flight",
            registry=registry)
        self.state = Gauge("vending_state", "1 for the machine's current FSM state",
                           ["state"], registry=registry)
        self.fault = Gauge("vending_fault", "1 while a device is at fault", ["device"],
                           registry=registry)
        self.device_errors = Counter("vending_device_errors",
                                     "Times a device failed to answer", ["device"],
                                     registry=registry)
        self.card_vends = Counter("vending_card_vends", "Card vends settled with the reader, "
                                  "by what it was told (success, failure, lost)", ["told"],
                                  registry=registry)
        self.card_sales = Counter("vending_card_sales_cents", "Value the cards paid",
                                  registry=registry)
        self.card_refunds = Counter("vending_card_refunds_owed_cents",
                                    "Value a reader charged for nothing: owed back to cards",
                                    registry=registry)
        self.card_present = Gauge("vending_card_present", "1 while a card session is open",
                                  registry=registry)
        self.slot_units = Gauge("vending_slot_units", "Units in each slot that holds a product",
                                ["slot"], registry=registry)
        self.slot_min_level = Gauge("vending_slot_min_level",
                                    "The stock at which a slot counts as low", ["slot"],
                                    registry=registry)
        self.http_duration = Histogram(
            "vending_http_request_duration_seconds", "API request duration",
            ["method", "route", "status"], registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30))
        # the labelled histograms by (method, route, status): labels() costs more than observe()
        self._http_children: dict[tuple[str, str, int], Any] = {}
        for state in State:
            self.state.labels(state.value).set(0)
        self.started = asyncio.Event()  # the machine read once: every known series exists

    def http_duration_of(self, method: str, route: str, status: int) -> Any:
        """The request-duration histogram of one method, route template and status."""
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self.http_duration.labels(method, route, str(status))
            if len(self._http_children) < MAX_HTTP_SERIES:
                self._http_children[key] = child
        return child

    async def exposition(self, wait_s: float = 2.0) -> bytes:
        """The text of every metric, once the machine was read (``wait_s`` at most)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.started.wait(), wait_s)
        return generate_latest(self.registry)

    # --- from the machine -----------------------------------------------------

    async def follow(self, machine: MachineFacade) -> None:
        """Take every event of the machine's stream until cancelled."""
        with machine.stream.subscribe() as events:
            try:
                await self.reread(machine)
            except Exception as exc:
                log.warning("metrics: could not read the machine: %r", exc)
            finally:
                self.started.set()
            async for event in events:
                try:
                    await self.apply(event, machine)
                except Exception as exc:  # a metric must never stop the stream
                    log.warning("metrics: event %s not applied: %r", event.kind, exc)

    async def apply(self, event: MachineEvent, machine: MachineFacade) -> None:
        data, kind = event.data, event.kind
        if kind == "coin":
            self.coins_accepted.labels(str(data["coin"])).inc()
        elif kind == "vend":
            self.vends.labels(str(data["slot"]), str(data["result"])).inc()
        elif kind == "payout":
            for coin in data.get("coins", []):
                self.payout_coins.labels(str(coin)).inc()
        elif kind == "state":
            self._set_state(str(data["state"]))
        elif kind == "faults":
            self._set_faults([str(f["device"]) for f in data.get("faults", [])])
        elif kind == "device" and not data.get("ok", True):
            self.device_errors.labels(str(data["device"])).inc()
        elif kind == "card":
            self._card(data)
        elif kind == "inventory":
            await self._reread_coins(machine)
        elif kind == "stock":
            await self._reread_slots(machine)
        elif kind == "resync":
            await self.reread(machine)
        if kind in MONEY_KINDS:
            await self._reread_credit(machine)

    async def reread(self, machine: MachineFacade) -> None:
        """Gauges from the machine itself: at start and after a resync."""
        state = await machine.state_json()
        self._set_state(str(state["state"]))
        self._set_faults([str(f["device"]) for f in state["faults"]])
        await self._reread_coins(machine)
        await self._reread_slots(machine)
        await self._reread_credit(machine)
        self._start_counters(state)

    def _start_counters(self, state: dict[str, Any]) -> None:
        """Every series of the money counters with its known labels, at 0 from the first
        scrape (Prometheus' advice: rates and alerts then work before the first coin)."""
        for row in state.get("coins", []):
            self.coins_accepted.labels(str(row["coin"]))
            self.payout_coins.labels(str(row["coin"]))
        for slot in state.get("slots", []):
            for result in VEND_RESULTS:
                self.vends.labels(str(slot["slot"]), result)

    def _card(self, data: dict[str, Any]) -> None:
        if "present" in data:
            self.card_present.set(1 if data["present"] else 0)
            return
        self.card_vends.labels(str(data["told"])).inc()
        self.card_sales.inc(int(data.get("charged", 0)))
        self.card_refunds.inc(int(data.get("refundOwed", 0)))

    def _set_state(self, current: str) -> None:
        for state in State:
            self.state.labels(state.value).set(1 if state.value == current else 0)

    def _set_faults(self, devices: list[str]) -> None:
        known = {labels[0] for labels in _label_sets(self.fault)}
        for device in known | set(devices):
            self.fault.labels(device).set(1 if device in devices else 0)

    async def _reread_coins(self, machine: MachineFacade) -> None:
        for row in await machine.coin_inventory():
            self.hopper_coins.labels(str(row["coin"])).set(row["payout"])
            self.cashbox_coins.labels(str(row["coin"])).set(row["cashbox"])

    async def _reread_slots(self, machine: MachineFacade) -> None:
        products = {p["slot"]: p for p in await machine.products.list()}
        for gauge, field in ((self.slot_units, "amountAvailable"),
                             (self.slot_min_level, "minLevel")):
            for (slot,) in set(_label_sets(gauge)) - {(s,) for s in products}:
                gauge.remove(slot)  # the slot holds no product any more
            for slot, product in products.items():
                gauge.labels(slot).set(product[field])

    async def _reread_credit(self, machine: MachineFacade) -> None:
        self.credit_outstanding.set(await machine.credit_outstanding())


def _label_sets(metric: Any) -> list[tuple[str, ...]]:
    return [tuple(s.labels.values()) for family in metric.collect() for s in family.samples]


# --- the aiohttp side ---------------------------------------------------------

METRICS_KEY: web.AppKey[MachineMetrics] = web.AppKey("metrics", MachineMetrics)


@web.middleware
async def http_timing(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    """Each request's duration, labelled by its route template (never the raw path)."""
    began = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS_KEY].http_duration_of(request.method, route, status).observe(
            time.perf_counter() - began)


async def metrics_ctx(app: web.Application) -> Any:
    """Follow the machine's stream while the app runs."""
    from api.routing import MACHINE_KEY

    task = asyncio.create_task(app[METRICS_KEY].follow(app[MACHINE_KEY]), name="metrics")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
