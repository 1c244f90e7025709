"""Fleet telemetry: the machine reports to an MQTT broker (DESIGN "Fleet telemetry").

The publisher is a subscriber of the machine's event stream, never a step of a
sale: a sale commits to SQLite and publishes to the stream whatever the broker
does, and this part catches up in its own task.  Per machine ``ID`` under the
topic prefix:

- ``status`` (QoS 1, retained): ``{online: true, state, faults: [{device, reason,
  latched}], version, ts, salesToday}`` on connect and on every state or fault
  change; the retained will is ``{online: false}``, which a clean stop also
  publishes itself with the time it stopped (``ts``);
- ``events`` (QoS 1): every row of the SQLite event log, in id order, from a
  persisted "sent up to" mark that moves only when the broker acknowledged the
  rows (store and forward: the log is the queue; rows of a time when the broker
  was away or the machine was off are sent on the next connect).  More than
  ``max_backlog_events`` unsent rows: the oldest are skipped, with a
  ``telemetry_backlog_cut`` event;
- ``inventory`` (QoS 1, retained) after every stock or coin change;
- ``cmd`` / ``reply`` when commands are on (``controller.fleet.commands``).

The MQTT protocol is aiomqtt's (over paho-mqtt); this module only decides what
to send and when.  Reconnects back off exponentially up to ``RECONNECT_MAX_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt

from controller.config import TelemetryConfig
from controller.errors import ConfigError
from controller.events import MachineEvent, Subscription
from controller.fleet.commands import FleetCommands, error_reply
from controller.store import outbox as telemetry_store
from controller.version import VERSION

if TYPE_CHECKING:
    from controller.machine import Machine

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 30.0
EVENT_BATCH = 200
PUBLISH_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 1.0  # each of the two close steps: SIGTERM must stop within 5 s
KEEPALIVE_S = 30
STREAM_KINDS = ("journal", "state", "faults", "inventory", "stock", "vend", "resync")


def client_options(cfg: TelemetryConfig) -> dict[str, Any]:
    """aiomqtt.Client keyword arguments for the broker, credentials and CA of ``cfg``."""
    options: dict[str, Any] = {"hostname": cfg.host, "port": cfg.port}
    if cfg.username is not None:
        options["username"] = cfg.username
    if cfg.password_file is not None:
        try:
            options["password"] = Path(cfg.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[telemetry] password_file: {exc}") from None
    if cfg.tls:
        try:
            options["tls_context"] = ssl.create_default_context(cafile=cfg.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[telemetry] ca_file: {exc}") from None
    return options


def topic(cfg: TelemetryConfig, machine_id: str, leaf: str) -> str:
    return f"{cfg.topic_prefix}/{machine_id}/{leaf}"


class TelemetryPublisher:
    """One machine's link to the broker.  Construct, ``await start()``, ``await close()``."""

    def __init__(self, machine: Machine, cfg: TelemetryConfig) -> None:
        self._machine = machine
        self._cfg = cfg
        self._id = machine.config.machine.machine_id
        self._options = client_options(cfg)
        self._commands = FleetCommands(machine) if cfg.commands else None
        self._journal_grew = asyncio.Event()
        self._inventory_dirty = asyncio.Event()
        self._device_inventory = False  # the last inventory had tubes or a stacker
        self._status_queue: deque[dict[str, Any]] = deque(maxlen=100)
        self._status_ready = asyncio.Event()
        self._mark_lock = asyncio.Lock()
        self._mark = 0
        self._newest_id = 0
        self._state = "booting"
        self._faults: list[dict[str, Any]] = []
        self._sales_day_s = 0.0
        self._sales = (0, 0)
        self._client: aiomqtt.Client | None = None
        self._had_session = False
        self._closing = False
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()

    def topic(self, leaf: str) -> str:
        return topic(self._cfg, self._id, leaf)

    @property
    def client_id(self) -> str:
        """The broker user name (a broker that binds ids to users gives it anyway), else
        ``vending-ID``: the same on every connect, so the broker keeps the session."""
        return self._cfg.username or f"vending-{self._id}"

    # --- life cycle --------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the stream first (nothing is missed), then read where we are."""
        self._subscription = self._machine.stream.subscribe(STREAM_KINDS, maxlen=10_000)
        store = self._machine.store
        self._mark = await store.run(telemetry_store.sent_mark)
        self._newest_id = await store.run(telemetry_store.newest_event_id)
        await self._reread_status()
        await self._cut_backlog_if_long()
        self._tasks = [asyncio.create_task(self._follow_stream(), name="telemetry-stream"),
                       asyncio.create_task(self._stay_connected(), name="telemetry-link")]

    async def close(self) -> None:
        """Say offline (retained), disconnect, stop; bounded, never raises."""
        self._closing = True  # no status after the offline one
        client = self._client
        if client is not None and self.connected.is_set():
            with contextlib.suppress(Exception):
                await client.publish(self.topic("status"), _offline(time.time()), qos=1,
                                     retain=True, timeout=CLOSE_TIMEOUT_S)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, CLOSE_TIMEOUT_S)
        if self._subscription is not None:
            self._subscription.close()

    # --- the stream: what changed -------------------------------------------------

    async def _follow_stream(self) -> None:
        assert self._subscription is not None
        async for event in self._subscription:
            await self._on_event(event)

    async def _on_event(self, event: MachineEvent) -> None:
        kind, data = event.kind, event.data
        if kind == "journal":
            self._newest_id = max(self._newest_id, int(data["lastId"]))
            self._journal_grew.set()
            if not self.connected.is_set():
                await self._cut_backlog_if_long()
        elif kind == "state":
            self._state = str(data["state"])
            self._queue_status()
        elif kind == "faults":
            self._faults = _faults(data["faults"])
            self._queue_status()
            if self._device_inventory:  # a full stacker or a tube fault shows there too
                self._inventory_dirty.set()
        elif kind == "vend":
            if data.get("result") == "paid":
                self._count_sale(int(data.get("cents", 0)))
        elif kind in ("inventory", "stock"):
            self._inventory_dirty.set()
        elif kind == "resync":
            await self._reread_status()
            self._inventory_dirty.set()
            self._journal_grew.set()

    def _queue_status(self) -> None:
        self._status_queue.append(self._status())
        self._status_ready.set()

    def _count_sale(self, cents: int) -> None:
        midnight = telemetry_store.local_midnight_ts()
        if midnight != self._sales_day_s:
            self._sales_day_s, self._sales = midnight, (0, 0)
        self._sales = (self._sales[0] + 1, self._sales[1] + cents)

    async def _reread_status(self) -> None:
        midnight = telemetry_store.local_midnight_ts()
        self._sales = await self._machine.store.run(
            lambda db: telemetry_store.sales_since(db, midnight))
        self._sales_day_s = midnight
        state = await self._machine.state_json()
        self._state = str(state["state"])
        self._faults = _faults(state["faults"])
        self._queue_status()

    def _status(self) -> dict[str, Any]:
        if telemetry_store.local_midnight_ts() != self._sales_day_s:
            self._sales = (0, 0)
        return {"online": True, "state": self._state, "faults": self._faults,
                "version": VERSION, "ts": time.time(),
                "salesToday": {"count": self._sales[0], "cents": self._sales[1]}}

    async def _cut_backlog_if_long(self) -> None:
        limit = self._cfg.max_backlog_events
        if self._newest_id - self._mark <= limit:
            return
        keep = limit * 9 // 10  # room for new rows before the next cut
        async with self._mark_lock:
            mark = self._mark
            self._mark = await self._machine.store.tx(
                lambda db: telemetry_store.cut_backlog(db, mark, keep))
        log.warning("telemetry: backlog over %d events, events %d..%d will not be sent",
                    limit, mark + 1, self._mark)

    # --- the broker ------------------------------------------------------------------

    async def _stay_connected(self) -> None:
        delay_s = RECONNECT_MIN_S
        while True:
            try:
                await self._connect_and_serve()
            except* (aiomqtt.MqttError, OSError, ssl.SSLError) as group:
                log.warning("telemetry: broker %s: %s", self._cfg.broker,
                            "; ".join(str(e) for e in group.exceptions))
            except* Exception:  # telemetry must outlive any one failure; the sale never waits
                log.exception("telemetry: link failed")
            if self._had_session:
                delay_s = RECONNECT_MIN_S
            self.connected.clear()
            self._client = None
            await asyncio.sleep(delay_s * random.uniform(0.8, 1.2))
            delay_s = min(delay_s * 2, RECONNECT_MAX_S)

    async def _connect_and_serve(self) -> None:
        self._had_session = False
        will = aiomqtt.Will(self.topic("status"), _offline(), qos=1, retain=True)
        client = aiomqtt.Client(**self._options, identifier=self.client_id,
                                clean_session=False, will=will, keepalive=KEEPALIVE_S,
                                max_inflight_messages=100, timeout=PUBLISH_TIMEOUT_S)
        client.pending_calls_threshold = EVENT_BATCH + 10  # a batch in flight is normal
        async with client:
            self._client = client
            self._had_session = True
            self._status_queue.clear()
            await client.publish(self.topic("status"), json.dumps(self._status()), qos=1,
                                 retain=True)
            if self._commands is not None:
                await client.subscribe(self.topic("cmd"), qos=1)
            self._inventory_dirty.set()
            self._journal_grew.set()
            self.connected.set()
            log.info("telemetry: connected to %s as %s", self._cfg.broker, self._id)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._forward_events(client))
                tasks.create_task(self._publish_status(client))
                tasks.create_task(self._publish_inventory(client))
                tasks.create_task(self._take_commands(client))

    async def _forward_events(self, client: aiomqtt.Client) -> None:
        """Send the log from the mark on, in id order; move the mark once acknowledged."""
        events_topic = self.topic("events")
        while True:
            self._journal_grew.clear()
            batch = await self._machine.events(self._mark, EVENT_BATCH)
            if not batch:
                await self._journal_grew.wait()
                continue
            await asyncio.gather(*(client.publish(events_topic, json.dumps(event), qos=1)
                                   for event in batch))
            await self._move_mark(int(batch[-1]["id"]))

    async def _move_mark(self, last_id: int) -> None:
        async with self._mark_lock:
            if last_id > self._mark:
                self._mark = last_id
                await self._machine.store.tx(
                    lambda db: telemetry_store.save_sent_mark(db, last_id))

    async def _publish_status(self, client: aiomqtt.Client) -> None:
        while True:
            await self._status_ready.wait()
            self._status_ready.clear()
            while self._status_queue and not self._closing:
                status = self._status_queue.popleft()
                await client.publish(self.topic("status"), json.dumps(status), qos=1,
                                     retain=True)

    async def _publish_inventory(self, client: aiomqtt.Client) -> None:
        while True:
            await self._inventory_dirty.wait()
            self._inventory_dirty.clear()
            inventory = inventory_payload(await self._machine.state_json())
            self._device_inventory = "tubes" in inventory or "stacker" in inventory
            await client.publish(self.topic("inventory"), json.dumps(inventory), qos=1,
                                 retain=True)

    async def _take_commands(self, client: aiomqtt.Client) -> None:
        """Answer commands; also how a lost connection is noticed (the iterator raises)."""
        async for message in client.messages:
            if self._commands is None or not message.topic.matches(self.topic("cmd")):
                continue
            payload = message.payload if isinstance(message.payload, bytes) else \
                str(message.payload).encode()
            try:
                reply = await self._commands.handle(payload)
            except Exception as exc:  # a bad command is answered; the link stays up
                log.exception("telemetry: a fleet command could not be handled")
                reply = error_reply(None, "internal_error", type(exc).__name__)
            await client.publish(self.topic("reply"), json.dumps(reply), qos=1)


def _faults(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"device": f["device"], "reason": f["reason"], "latched": bool(f.get("latched"))}
            for f in faults]


def _offline(ts: float | None = None) -> str:
    """The offline status: the will has no time; a clean stop says when it stopped."""
    return json.dumps({"online": False} if ts is None else {"online": False, "ts": ts})


def inventory_payload(state: dict[str, Any]) -> dict[str, Any]:
    """The ``inventory`` message from ``Machine.state_json()``; with MDB devices also
    ``tubes`` (``[{coin, count, full, outOfOrder}]``) and ``stacker`` (``{bills,
    value, full, cashBoxOut}``)."""
    slots = []
    for slot in state["slots"]:
        product = slot.get("product") or {}
        slots.append({"slot": slot["slot"], "productName": product.get("productName"),
                      "cost": product.get("cost"),
                      "amountAvailable": product.get("amountAvailable", 0),
                      "capacity": slot["capacity"], "minLevel": product.get("minLevel", 0),
                      "status": slot["status"]})
    coins = [{"coin": c["coin"], "payout": c["payout"], "capacity": c["capacity"],
              "cashbox": c["cashbox"]} for c in state["coins"]]
    payload: dict[str, Any] = {"slots": slots, "coins": coins}
    changer = state.get("changer")
    if changer:
        payload["tubes"] = [{"coin": t["coin"], "count": t["count"], "full": t["full"],
                             "outOfOrder": t["outOfOrder"]} for t in changer["tubes"]]
    bills = state.get("bills")
    if bills:
        payload["stacker"] = {"bills": bills["stackerCount"], "value": bills["stackerValue"],
                              "full": bills["stackerFull"], "cashBoxOut": bills["cashBoxOut"]}
    return payload
