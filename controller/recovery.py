"""Boot-time recovery: reconcile every open journal row with the hardware.

After a crash or a power cut, before the machine takes a coin:

- a vend still ``pending`` is not charged (its price goes back to the holder)
  and its slot is flagged for a check (journal.mark_vend_unknown);
- a payout still ``pending`` is compared, hopper by hopper, with what the
  hopper says: a dispense counter that has not moved since the journaled value
  proves nothing more was paid; one step further means the dispense arrived,
  and the hopper's figures against those journaled before it tell whether it
  was taken (its ``paid`` count is ours) or refused (nothing paid).  A hopper
  still paying is stopped first (emergency stop, then a final status read for
  a late coin).  Whatever was
  not paid goes back to the holder's credit.  Nothing is paid twice.

Coins the acceptor buffered while the controller was down are credited by the
acceptor driver itself, which resumes from the counter stored with the last
credit (CoinAcceptor.start(resume_counter=...)).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from controller.store import Store, journal
from controller.store.event_log import append_event
from drivers.base import Hopper, HopperStatus, dispense_accepted
from drivers.errors import HardwareError

log = logging.getLogger(__name__)


def counter_advanced_by_one(before: int, after: int) -> bool:
    """ccTalk event counters run 1..255 and wrap to 1 (0 only after a reset)."""
    return after == (before % 255) + 1


async def _final_status(hopper: Hopper) -> HopperStatus:
    status = await hopper.status()
    if status.remaining > 0:
        status = await hopper.emergency_stop()
    return status


async def _reconcile_payout(store: Store, hoppers: dict[int, Hopper],
                            payout: dict[str, Any]) -> list[str]:
    """Record every coin the hoppers paid for this payout, then settle it."""
    problems: list[str] = []
    plan = {int(k): int(v) for k, v in json.loads(payout["plan"]).items()}
    paid = {int(k): int(v) for k, v in json.loads(payout["paid"]).items()}
    counters = {int(k): int(v) for k, v in json.loads(payout["counters"]).items()}
    pid = int(payout["id"])
    for coin, count in plan.items():
        if paid.get(coin, 0) >= count or coin not in counters:
            continue  # fully recorded, or its dispense was never sent
        hopper = hoppers.get(coin)
        if hopper is None:
            problems.append(f"payout {pid}: no hopper for {coin}c")
            continue
        try:
            status = await _final_status(hopper)
        except HardwareError as exc:
            problems.append(f"payout {pid}: hopper {coin}c not answering ({exc})")
            continue
        before = counters[coin]
        if status.counter == before:
            continue
        if counter_advanced_by_one(before, status.counter):
            figures = journal.hopper_status_before(payout, coin)
            accepted: bool | None = True
            if figures is not None:
                accepted = dispense_accepted(
                    HopperStatus(before, 0, figures[0], figures[1]), status, count)
            if accepted is False:
                continue  # the hopper refused the dispense: nothing was paid
            # taken (or, when the figures repeat the last payout's, most likely taken:
            # a refusal is rare and would show on every dispense)
            total = min(status.paid, count)
            await store.tx(lambda db, c=coin, t=total: journal.record_coins_paid(  # type: ignore[misc]
                db, pid, c, t))
            continue
        problems.append(f"payout {pid}: hopper {coin}c counter {before} -> {status.counter}, "
                        "cannot tell what it paid; counted only the coins recorded")
    await store.tx(lambda db: journal.settle_payout(db, pid))
    return problems


async def recover(store: Store, hoppers: dict[int, Hopper]) -> list[str]:
    """Reconcile open vends and payouts; returns problems a technician should see."""
    problems: list[str] = []
    vends = await store.run(journal.open_vends)
    for vend in vends:
        await store.tx(lambda db, v=vend: journal.mark_vend_unknown(db, v))  # type: ignore[misc]
        log.warning("recovered vend %s in slot %s: not charged, slot flagged", vend["id"],
                    vend["slot"])
    for payout in await store.run(journal.open_payouts):
        problems.extend(await _reconcile_payout(store, hoppers, payout))
    if vends or problems:
        await store.tx(lambda db: append_event(db, "recovery", vends=len(vends),
                                               problems=problems))
    return problems
