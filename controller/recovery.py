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
  a late coin).  Whatever was not paid goes back to the holder's credit.
  Nothing is paid twice.
- A hopper that keeps a lifetime dispense count (ccTalk 168: the Flow) had it
  journaled before its dispense: the count now less the count then is
  exactly what it paid, whatever its event counter did (a reset included).
- Without that count, when the figures exactly repeat the last payout's (a
  Flow-like hopper moves its counter on a refusal too), taken and refused
  cannot be told apart: the payout cannot be accounted for.  It is never
  booked as paid and never paid again; its value stays owed change, and the hopper is latched for an
  operator to count (``Reconciled.faults``).
- A changer's tube (``Hopper.counter_is_coin_count``) journals its coin count
  before each DISPENSE: what a cut payout paid is the drop in that count.
- A payout that concerns a hopper not answering (not in yet, or silent now)
  stays open, never guessed: it is reconciled when that hopper is brought in
  (``reconcile_payouts`` again, with the hopper answering).

Coins the acceptor buffered while the controller was down are credited by the
acceptor driver itself, which resumes from the counter stored with the last
credit (CoinAcceptor.start(resume_counter=...)).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from controller.store import Store, journal
from controller.store.event_log import append_event
from drivers.base import Hopper, HopperStatus, dispense_accepted
from drivers.errors import HardwareError

log = logging.getLogger(__name__)
DISPENSE_COUNT_MODULO = 1 << 24  # ccTalk 168: 3 bytes


@dataclass
class Reconciled:
    """What recovery found: problems for a technician, hopper faults to report
    (coin -> (reason, latched)), and the payouts left open for a hopper that
    did not answer."""

    problems: list[str] = field(default_factory=list)
    faults: dict[int, tuple[str, bool]] = field(default_factory=dict)
    left_open: int = 0


def counter_advanced_by_one(before: int, after: int) -> bool:
    """ccTalk event counters run 1..255 and wrap to 1 (0 only after a reset)."""
    return after == (before % 255) + 1


async def _final_status(hopper: Hopper) -> HopperStatus:
    status = await hopper.status()
    if status.remaining > 0:
        status = await hopper.emergency_stop()
    return status


def _coins_to_check(payout: dict[str, Any]) -> dict[int, int]:
    """Coin -> count of each dispense that was sent and is not fully recorded."""
    plan = {int(k): int(v) for k, v in json.loads(payout["plan"]).items()}
    paid = {int(k): int(v) for k, v in json.loads(payout["paid"]).items()}
    counters = json.loads(payout["counters"])
    return {c: n for c, n in plan.items() if paid.get(c, 0) < n and str(c) in counters}


async def _read_statuses(hoppers: dict[int, Hopper], coins: dict[int, int],
                         found: Reconciled) -> dict[int, HopperStatus] | None:
    """Every hopper's final status, or None when one does not answer (left open)."""
    statuses: dict[int, HopperStatus] = {}
    for coin in coins:
        hopper = hoppers.get(coin)
        if hopper is None:
            return None
        try:
            statuses[coin] = await _final_status(hopper)
        except HardwareError as exc:
            found.faults[coin] = (f"hopper {coin}c not answering ({exc}): check it", False)
            return None
    return statuses


async def _counted(hopper: Hopper, payout: dict[str, Any], coin: int, count: int,
                   found: Reconciled) -> int | None:
    """The coins this dispense paid, from the hopper's lifetime dispense count
    against the one journaled before it; None when either is unknown."""
    before = journal.dispense_count_before(payout, coin)
    if before is None:
        return None
    try:
        now = await hopper.dispense_count()
    except HardwareError as exc:
        log.warning("hopper %dc: dispense count unread (%s); its counter decides", coin, exc)
        return None
    if now is None:
        return None
    paid = (now - before) % DISPENSE_COUNT_MODULO
    if paid > count:
        found.problems.append(f"payout {payout['id']}: hopper {coin}c counted {paid} coin(s) "
                              f"out for a dispense of {count}: check the hopper")
    return min(paid, count)


async def _reconcile_payout(store: Store, hoppers: dict[int, Hopper],
                            payout: dict[str, Any], found: Reconciled) -> None:
    """Record every coin the hoppers paid for this payout, then settle it."""
    pid = int(payout["id"])
    coins = _coins_to_check(payout)
    statuses = await _read_statuses(hoppers, coins, found)
    if statuses is None:
        found.left_open += 1
        found.problems.append(f"payout {pid}: left open until its hoppers answer")
        return
    counters = {int(k): int(v) for k, v in json.loads(payout["counters"]).items()}
    unaccounted: tuple[int, int] | None = None
    for coin, count in coins.items():
        status, before = statuses[coin], counters[coin]
        if hoppers[coin].counter_is_coin_count:  # a changer's tube: what left it was paid
            total = max(0, min(before - status.counter, count))
            await store.tx(lambda db, c=coin, t=total: journal.record_coins_paid(  # type: ignore[misc]
                db, pid, c, t))
            continue
        counted = await _counted(hoppers[coin], payout, coin, count, found)
        if counted is not None:
            await store.tx(lambda db, c=coin, t=counted: journal.record_coins_paid(  # type: ignore[misc]
                db, pid, c, t))
            continue
        if status.counter == before:
            continue
        if not counter_advanced_by_one(before, status.counter):
            found.problems.append(f"payout {pid}: hopper {coin}c counter {before} -> "
                                  f"{status.counter}, cannot tell what it paid; counted only "
                                  "the coins recorded")
            continue
        figures = journal.hopper_status_before(payout, coin)
        accepted = True if figures is None or not hoppers[coin].counter_moves_on_refusal \
            else dispense_accepted(HopperStatus(before, 0, figures[0], figures[1]), status, count)
        if accepted is None:
            unaccounted = (coin, count)
            continue
        if accepted:
            total = min(status.paid, count)
            await store.tx(lambda db, c=coin, t=total: journal.record_coins_paid(  # type: ignore[misc]
                db, pid, c, t))
    if unaccounted is None:
        await store.tx(lambda db: journal.settle_payout(db, pid))
        return
    coin, count = unaccounted
    owed = await store.tx(lambda db: journal.hold_payout_owed(db, pid, coin, count))
    reason = (f"payout {pid}: hopper {coin}c cannot tell whether it paid {count} coin(s) "
              f"(its figures repeat its last payout's); {owed} cents kept as change owed: "
              "count the coins in the hopper, then set its count and leave service mode")
    found.problems.append(reason)
    found.faults[coin] = (reason, True)


async def reconcile_payouts(store: Store, hoppers: dict[int, Hopper]) -> Reconciled:
    """Reconcile the open payouts whose hoppers answer; the others stay open."""
    found = Reconciled()
    for payout in await store.run(journal.open_payouts):
        await _reconcile_payout(store, hoppers, payout, found)
    if found.problems:
        await store.tx(lambda db: append_event(db, "recovery", vends=0,
                                               problems=found.problems))
    return found


async def recover(store: Store, hoppers: dict[int, Hopper]) -> Reconciled:
    """At boot: settle open vends, reconcile open payouts with the hoppers given
    (those that answer); returns what a technician should see."""
    vends = await store.run(journal.open_vends)
    for vend in vends:
        await store.tx(lambda db, v=vend: journal.mark_vend_unknown(db, v))  # type: ignore[misc]
        log.warning("recovered vend %s in slot %s: not charged, slot flagged", vend["id"],
                    vend["slot"])
    if vends:
        await store.tx(lambda db: append_event(db, "recovery", vends=len(vends), problems=[]))
    return await reconcile_payouts(store, hoppers)
