"""What the coin acceptor says besides coins: refusals, lost and found, alerts, lost events.

Each status event of a batch goes to its place: a refused coin to the panel's handler,
a device lost or back through the one fault path, an alert (fraud, a swallowed coin,
a sensor fault) to the event log, lost events as a latched fault (someone must count).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.store import Store
from controller.store.event_log import append_event
from drivers.base import CoinBatch, CoinEvent, CoinEventKind

log = logging.getLogger("controller.payment.coin_gate")


async def report(batch: CoinBatch, *, stream: EventStream, faults: FaultRegistry, store: Store,
                 on_refused: Callable[[CoinEvent, bool], None] | None, claims_open: bool,
                 dirty: Callable[[], None]) -> None:
    """Act on every status event of ``batch`` (its coins were credited before)."""
    for event in batch.events:
        if event.kind in (CoinEventKind.INHIBITED, CoinEventKind.REJECTED) \
                and on_refused is not None:
            on_refused(event, claims_open)
        if event.kind is CoinEventKind.DEVICE_BACK:
            stream.publish("device", device="acceptor", ok=True, error=None)
            await faults.heal("acceptor", "coin acceptor answers again: events "
                              "resynchronised, inhibits re-sent")
            dirty()
        elif event.kind is CoinEventKind.DEVICE_LOST:
            stream.publish("device", device="acceptor", ok=False, error="not answering")
            await faults.report("coin acceptor not answering (or refusing every poll): "
                                "check its cable and power", device="acceptor", latched=False)
        elif event.alert:
            await _alert(store, event)
        elif event.kind is CoinEventKind.EVENTS_LOST:
            # Coins may have been taken and not credited: someone must count.
            await faults.report(
                f"coin acceptor lost {event.code} event(s) (more than 5 between polls): "
                "coins may not have been credited; count the cash, check the acceptor, "
                "then leave service mode", device="acceptor")


async def _alert(store: Store, event: CoinEvent) -> None:
    """What an operator must know of (fraud, a swallowed coin, a sensor fault)."""
    log.warning("acceptor alert: event %d (%s): %s", event.code, event.kind.value,
                event.meaning)
    await store.tx(lambda db: append_event(
        db, "acceptor_alert", event=event.kind.value, code=event.code, meaning=event.meaning))
