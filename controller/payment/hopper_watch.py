"""The hoppers' fault watch: bring hoppers in, and heal them when they answer.

A hopper that does not answer at start-up, or that stopped answering or
refused a dispense since, is at fault (transient) and out of change-making.
This watch asks it again, with a back-off per hopper (``FIRST_TRY_S``,
doubled up to ``MAX_TRY_S``) so a dead hopper does not crowd the ccTalk bus,
and well within 5 s of its answering again: it is re-initialised (started,
its figures read), the payouts left open for it at boot are reconciled then
(never guessed before), and its fault clears with an event.  A latched fault
(a payout that cannot be accounted for, an empty or jammed hopper, a hopper
that keeps failing) is left for an operator.

At rest (no vend or payout running) every hopper that is in and well is
asked whether it is there (``Hopper.poll``: a ccTalk simple poll) every
``PRESENCE_S``, so a hopper that went silent is a fault on the pages and
``/health`` within a few seconds, before a customer needs change from it;
it heals as above when it answers again.  (The coin acceptor needs no such
poll: its credit poll runs every 100 ms and reports it lost.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from controller.faults import FaultRegistry
from controller.payment.device_identity import record as record_identities
from controller.recovery import Reconciled, reconcile_payouts
from controller.sale.mechanism import Mechanism
from controller.store import Store
from drivers.base import Hopper
from drivers.errors import HardwareError

log = logging.getLogger(__name__)
TICK_S = 0.1
FIRST_TRY_S = 0.2
MAX_TRY_S = 2.0
PRESENCE_S = 2.0  # a silent hopper is seen within this plus the link's retries


def hopper_device(coin: int) -> str:
    return f"hopper:{coin}"


class HopperWatch:
    def __init__(self, store: Store, faults: FaultRegistry, mechanism: Mechanism) -> None:
        self._store = store
        self._faults = faults
        self._mechanism = mechanism
        self.hoppers: dict[int, Hopper] = {}
        self.absent: set[int] = set()  # not started yet: they did not answer at start-up
        self._delay_s: dict[int, float] = {}
        self._next_try: dict[int, float] = {}
        self._next_presence: dict[int, float] = {}
        self.on_credit: Callable[[], Awaitable[None]] | None = None  # credit given back

    async def start_all(self, hoppers: dict[int, Hopper]) -> None:
        """Start every hopper; one that does not answer is a transient fault."""
        self.hoppers = dict(hoppers)
        for coin, hopper in hoppers.items():
            try:
                await hopper.start()
            except HardwareError as exc:
                self.absent.add(coin)
                await self._faults.report(f"hopper {coin}c not answering at start-up ({exc}): "
                                          "check its cable and power", device=hopper_device(coin),
                                          latched=False)

    def present(self) -> dict[int, Hopper]:
        return {c: h for c, h in self.hoppers.items() if c not in self.absent}

    async def report_found(self, found: Reconciled) -> None:
        """What recovery found: hoppers that went silent, payouts not accounted for."""
        for coin, (reason, latched) in found.faults.items():
            if not latched:
                self.absent.add(coin)  # its open payouts are reconciled once it answers
            await self._faults.report(reason, device=hopper_device(coin), latched=latched)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for coin in list(self.hoppers):
                if self._wants_try(coin):
                    await self._try(coin)
                elif self._wants_presence(coin):
                    await self._check_presence(coin)

    def _wants_presence(self, coin: int) -> bool:
        """In, with no fault, at rest, and not asked for ``PRESENCE_S``."""
        if coin in self.absent or self._faults.get(hopper_device(coin)) is not None:
            return False
        if self._mechanism.busy:
            return False
        return time.monotonic() >= self._next_presence.get(coin, 0.0)

    async def _check_presence(self, coin: int) -> None:
        self._next_presence[coin] = time.monotonic() + PRESENCE_S
        try:
            await self.hoppers[coin].poll()
        except HardwareError as exc:
            if self._mechanism.busy:
                return  # a payout started meanwhile: it reports what it finds
            await self._faults.report(f"hopper {coin}c not answering at rest ({exc}): check "
                                      "its cable and power", device=hopper_device(coin),
                                      latched=False)

    def _wants_try(self, coin: int) -> bool:
        fault = self._faults.get(hopper_device(coin))
        if coin not in self.absent and (fault is None or fault.latched):
            self._delay_s.pop(coin, None)
            return False
        return time.monotonic() >= self._next_try.get(coin, 0.0)

    async def _try(self, coin: int) -> None:
        hopper = self.hoppers[coin]
        try:
            if coin in self.absent:
                await hopper.start()
            status = await hopper.status()
        except HardwareError as exc:
            delay_s = min(self._delay_s.get(coin, FIRST_TRY_S / 2) * 2, MAX_TRY_S)
            self._delay_s[coin] = delay_s
            self._next_try[coin] = time.monotonic() + delay_s
            log.debug("hopper %dc still not answering (%s); next try in %.1f s", coin, exc,
                      delay_s)
            return
        self._delay_s.pop(coin, None)
        if coin in self.absent:
            await self._bring_in(coin)
        await self._faults.heal(hopper_device(coin), f"hopper {coin}c answers again "
                                f"(counter {status.counter}, {status.remaining} remaining)")

    async def _bring_in(self, coin: int) -> None:
        """The payouts left open for it, reconciled now (no vend or payout runs)."""
        async with self._mechanism.quiet():
            self.absent.discard(coin)
            found = await reconcile_payouts(self._store, self.present())
        await record_identities(self._store, None, {coin: self.hoppers[coin]})
        if self.on_credit is not None:
            await self.on_credit()
        for problem in found.problems:
            log.warning("recovery: %s", problem)
        await self.report_found(found)
