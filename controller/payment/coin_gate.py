"""The coin gate: the coin acceptor's inhibits, deposit claims, and coins credited.

It keeps the acceptor's inhibits in step with the machine (accepting only in
``idle``/``credit``, only coins whose credit could still be paid back, none
while an operator counts coins), credits every accepted coin once to its
holder (a buyer's deposit claim for that coin value, else the panel), and
turns the acceptor's status events into faults and device events.

A deposit claim (``POST /deposit``) waits for the next coin of its value (a
simulated machine's ``ClaimCustomer`` inserts it through the same acceptor).
It never takes a walk-up customer's coin: one claim at a time, none while the
panel holds credit (``machine_busy``); meanwhile the acceptor takes only its
value, the LCD shows it and ``*`` cancels it (``deposit_cancelled``); a coin
that reached the panel first ends the claim with ``machine_busy``.  A claim that
ended without a coin pauses its account (``controller.payment.claims``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import sqlite_utils

from controller import money
from controller.config import Config
from controller.errors import DepositCancelled, DepositTimeout, MachineBusy
from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.fsm import READY, MachineModel, State
from controller.payment import acceptor_status
from controller.payment.claims import ClaimCooldown, ClaimCustomer, DepositClaim, check_claim
from controller.payment.tubes import book_tube_event
from controller.sale.mechanism import Mechanism
from controller.store import Store
from controller.store.credit import PANEL, find_credit, get_credit, user_holder
from controller.store.event_log import append_event
from controller.store.inventory import (
    credit_coin,
    device_counter,
    hopper_capacity,
    payout_inventory,
    set_device_counter,
)
from controller.tasks import Supervisor
from drivers.base import CoinAcceptor, CoinBatch, CoinEvent, CoinEventKind
from drivers.errors import HardwareError

log = logging.getLogger(__name__)
SYNC_WAIT_S = 3.0
BRING_IN_FIRST_S = 0.2  # a device missing at start-up: first retry, doubled up to
BRING_IN_MAX_S = 2.0  # this, so it is in within 5 s of answering and the bus stays free


@dataclass(frozen=True)
class Credited:
    coin: int
    holder: str
    route: str


class CoinGate:
    def __init__(self, config: Config, store: Store, model: MachineModel, stream: EventStream,
                 faults: FaultRegistry, tasks: Supervisor, mechanism: Mechanism) -> None:
        self._config = config
        self._store = store
        self._model = model
        self._stream = stream
        self._faults = faults
        self._tasks = tasks
        self._mechanism = mechanism
        self._acceptor: CoinAcceptor | None = None  # once it is in (started)
        self._acceptor_name = "acceptor"
        self._claims: list[DepositClaim] = []
        self.cooldown = ClaimCooldown(config.machine.deposit_claim_cooldown_s)
        self._credited_waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._synced = asyncio.Event()
        self._hold_coins = False
        self._tubes_moved = False
        self.exact_change_only = False
        self.customer: ClaimCustomer | None = None
        self.on_credit: Callable[[], Awaitable[None]] | None = None  # the panel credit moved
        self.on_refused: Callable[[CoinEvent, bool], None] | None = None  # (event, claimed)
        self.on_exact_change: Callable[[], None] | None = None
        self.on_claim: Callable[[], None] | None = None  # a claim began or ended

    # --- life cycle -----------------------------------------------------------

    async def start(self, acceptor: CoinAcceptor) -> None:
        """Keep the acceptor in step; bring it in now, or as soon as it answers.

        An acceptor that does not answer (or answers garbage) at start-up is a
        transient fault like any other: coins are refused meanwhile, everything
        else goes on, and it is tried again with a growing back-off."""
        acceptor.set_handler(self.on_coins)
        self._acceptor_name = acceptor.name
        self._tasks.spawn(self._sync_loop(), "acceptor-sync")
        try:
            await self._bring_in(acceptor)
        except HardwareError as exc:
            await self._faults.report(f"coin acceptor not answering at start-up ({exc}): "
                                      "check its cable and power", device="acceptor",
                                      latched=False)
            self._tasks.spawn(self._retry_bring_in(acceptor), "acceptor-bring-in")
            return
        # a transient fault left by the last run: it answers now
        await self._faults.heal("acceptor", "coin acceptor answers at start-up")

    async def _bring_in(self, acceptor: CoinAcceptor) -> None:
        """Start it from the last credited counter (coins it buffered are credited)."""
        counter = await self._store.run(lambda db: device_counter(db, acceptor.name))
        await acceptor.start(resume_counter=counter)
        self._acceptor = acceptor
        baseline = acceptor.event_counter
        if counter is None and baseline is not None:
            await self._store.tx(lambda db: set_device_counter(db, acceptor.name, baseline))
        self.dirty()

    async def _retry_bring_in(self, acceptor: CoinAcceptor) -> None:
        delay_s = BRING_IN_FIRST_S
        while True:
            await asyncio.sleep(delay_s)
            try:
                await self._bring_in(acceptor)
            except HardwareError as exc:
                log.debug("acceptor still not in: %s", exc)
                with contextlib.suppress(HardwareError, OSError):
                    await acceptor.close()
                delay_s = min(delay_s * 2, BRING_IN_MAX_S)
                continue
            await self._faults.heal("acceptor", "coin acceptor answers: started, inhibits sent")
            self._stream.publish("device", device="acceptor", ok=True, error=None)
            return

    @property
    def accepting(self) -> bool:
        return self._acceptor is not None and self._acceptor.accepting

    # --- inhibits -------------------------------------------------------------

    def dirty(self) -> None:
        """The machine changed: bring the acceptor's inhibits in step."""
        self._synced.clear()
        self._wake.set()

    async def synced(self) -> None:
        """Wait until the acceptor's inhibits match the machine's wishes."""
        await self._synced.wait()

    async def inhibit(self) -> None:
        """Refuse every coin at once (the fault path)."""
        if self._acceptor is not None:
            await self._acceptor.set_accepting(False)

    def _refilling(self) -> bool:
        """Service mode with a changer: coins inserted fill its tubes (not credit)."""
        return (self._model.state is State.SERVICE and self._acceptor is not None
                and self._acceptor.fills_tubes_in_service)

    async def _wanted(self) -> set[int]:
        """The coins to accept now: the acceptance rule for whoever gets the next coin."""
        if self._refilling() and not self._hold_coins:
            assert self._acceptor is not None
            return set(self._acceptor.known_coins_cents)
        if self._model.state not in READY or self._hold_coins:
            return set()
        claims = list(self._claims)
        max_credit = self._config.machine.max_credit_cents

        def rule(db: sqlite_utils.Database) -> set[int]:
            payout, capacity = payout_inventory(db), hopper_capacity(db)

            def fits(coin: int, credit: int | None) -> bool:
                return credit is not None and money.coin_acceptable(
                    coin, credit, max_credit=max_credit, payout=payout, capacity=capacity)

            if claims:  # an account that went while its coin was awaited takes none
                return {c.coin for c in claims
                        if fits(c.coin, find_credit(db, user_holder(c.user_id)))}
            credit = get_credit(db, PANEL)
            return {c for c in money.COINS_CENTS if fits(c, credit)}

        return await self._store.run(rule)

    async def _sync_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._apply(await self._wanted())
            except Exception as exc:  # this loop must outlive any one failure
                log.warning("acceptor inhibit not applied: %r", exc)
                await asyncio.sleep(0.5)
                self._wake.set()
                continue
            await self.refresh_exact_change()
            if not self._wake.is_set():
                self._synced.set()

    async def _apply(self, coins: set[int]) -> None:
        if self._acceptor is None:
            return  # not in yet: it starts inhibited, and is brought in step when it is
        if coins:
            await self._acceptor.set_coins_enabled(coins)
        await self._acceptor.set_accepting(bool(coins))

    async def refresh_exact_change(self) -> None:
        exact = await self._store.run(
            lambda db: money.exact_change_only(payout_inventory(db)))
        if exact != self.exact_change_only:
            self.exact_change_only = exact
            if self.on_exact_change is not None:
                self.on_exact_change()

    def refuse_from_now(self) -> None:
        """The machine is stopping: no coin is taken any more."""
        self._hold_coins = True
        self.dirty()

    @contextlib.asynccontextmanager
    async def coins_held(self) -> AsyncIterator[None]:
        """No coin moves meanwhile: the acceptor is inhibited, and a coin it took
        just before is credited first, so an operator's count is not overtaken."""
        self._hold_coins = True
        self.dirty()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.synced(), SYNC_WAIT_S)
            await asyncio.sleep(2 * self._config.acceptor.poll_interval_s)  # a last poll
            yield
        finally:
            self._hold_coins = False
            self.dirty()

    # --- coins in -------------------------------------------------------------

    async def on_coins(self, batch: CoinBatch) -> None:
        """The acceptor's handler: credit every coin once, with its counter."""
        self._tubes_moved = False
        claimed: list[DepositClaim] = []  # the claims whose coin this batch credits
        try:
            credited = await self._store.tx(lambda db: self._credit_batch(db, batch, claimed))
        except BaseException as exc:  # nothing credited: whoever waits learns it now
            for claim in claimed:
                claim.credited = False  # rolled back
            self._wake_credited_waiters(exc)
            raise
        await self._announce(credited)
        if self._tubes_moved:
            self._stream.publish("inventory")
            self.dirty()
        for claim in claimed:
            deposit = await self._store.run(
                lambda db, c=claim: get_credit(db, user_holder(c.user_id)))  # type: ignore[misc]
            if not claim.done.done():
                claim.done.set_result(deposit)
        if any(c.holder == PANEL for c in credited):
            self._end_claims(MachineBusy("a customer at the machine put a coin in first"))
        self._wake_credited_waiters(None)
        await acceptor_status.report(batch, stream=self._stream, faults=self._faults,
                                     store=self._store, on_refused=self.on_refused,
                                     claims_open=bool(self._claims), dirty=self.dirty)

    def _credit_batch(self, db: sqlite_utils.Database, batch: CoinBatch,
                      claimed: list[DepositClaim]) -> list[Credited]:
        credited: list[Credited] = []
        claims = list(self._claims)
        refilling = self._refilling()
        for event in batch.events:
            if self._book_tubes(db, event, refilling):
                continue
            if event.kind is not CoinEventKind.CREDIT:
                append_event(db, f"acceptor_{event.kind.value}", code=event.code,
                             position=event.position)
                continue
            claim = next((c for c in claims if c.coin == event.value_cents and not c.done.done()
                          and find_credit(db, user_holder(c.user_id)) is not None
                          and get_credit(db, PANEL) == 0), None)
            holder = user_holder(claim.user_id) if claim else PANEL
            if claim is not None:
                claim.credited = True
                claims.remove(claim)
                claimed.append(claim)
            route = credit_coin(db, event.value_cents, holder, event.route)
            credited.append(Credited(event.value_cents, holder, route))
        if batch.counter is not None:
            set_device_counter(db, self._acceptor_name, batch.counter)
        return credited

    def _book_tubes(self, db: sqlite_utils.Database, event: CoinEvent, refilling: bool) -> bool:
        if book_tube_event(db, event, refilling=refilling):
            self._tubes_moved = True
            return True
        return False

    async def _announce(self, credited: list[Credited]) -> None:
        for c in credited:
            self._stream.publish("coin", coin=c.coin, holder=c.holder, route=c.route)
        for holder in dict.fromkeys(c.holder for c in credited):
            cents = await self._store.run(lambda db, h=holder: find_credit(db, h))  # type: ignore[misc]
            if cents is not None:
                self._stream.publish("credit", holder=holder, cents=cents)
        if credited:
            self._stream.publish("inventory")
            if self.on_credit is not None:
                await self.on_credit()

    def _wake_credited_waiters(self, failure: BaseException | None) -> None:
        for waiter in self._credited_waiters:
            if waiter.done():
                continue
            if failure is None:
                waiter.set_result(None)
            elif isinstance(failure, asyncio.CancelledError):
                waiter.cancel()
            else:
                waiter.set_exception(failure)
        self._credited_waiters.clear()

    def next_coin_credited(self) -> asyncio.Future[None]:
        """Resolved when the acceptor's next batch of coins has been credited."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._credited_waiters.append(waiter)
        return waiter

    # --- deposit claims -------------------------------------------------------

    def has_open_claim(self, user_id: int) -> bool:
        """A deposit of this account is awaited at the coin slot."""
        return any(c.user_id == user_id and not c.done.done() for c in self._claims)

    @property
    def claim_cents(self) -> int | None:
        """The coin value a waiting deposit claim wants (None: no claim waits)."""
        return next((c.coin for c in self._claims if not c.done.done()), None)

    def cancel_claim(self) -> bool:
        """``*`` at the keypad: end the waiting claim, if there is one."""
        return self._end_claims(DepositCancelled("the deposit was cancelled at the machine"))

    def _end_claims(self, error: Exception) -> bool:
        open_claims = [c for c in self._claims if not c.done.done()]
        for claim in open_claims:
            claim.done.set_exception(error)
        return bool(open_claims)

    async def deposit(self, user_id: int, coin: int) -> int:
        """``POST /deposit``: claim the next coin of this value inserted at the machine."""
        money.validate_coin(coin)
        self._mechanism.require_in_service()
        self.cooldown.check(user_id)
        if self._claims:  # checked and taken with no await between: one claim at a time
            raise MachineBusy("another deposit is waiting for its coin at the machine")
        if self._model.panel_credit_cents > 0:
            raise MachineBusy("a customer at the front panel holds credit")
        claim = DepositClaim(user_id, coin)
        self._claims.append(claim)
        try:
            max_credit = self._config.machine.max_credit_cents
            await self._store.run(lambda db: check_claim(db, user_holder(user_id), coin,
                                                         max_credit))
            self._claim_changed()
            if self.customer is not None:
                self._tasks.spawn(self.customer.bring_coin(coin, claim.done), "sim-deposit")
            return await asyncio.wait_for(asyncio.shield(claim.done),
                                          self._config.machine.deposit_claim_s)
        except (TimeoutError, DepositCancelled) as ended:
            # a coin being credited as the claim ended is its own (the store is serial)
            deposit = await self._store.run(lambda db: get_credit(db, user_holder(user_id))
                                            if claim.credited else None)
            if deposit is not None:
                return deposit
            self.cooldown.ended_without_coin(user_id)  # no coin: the account pauses
            if isinstance(ended, DepositCancelled):
                raise
            raise DepositTimeout(f"no {coin} coin was inserted within "
                                 f"{self._config.machine.deposit_claim_s:g} s") from None
        finally:
            if not claim.done.done():
                claim.done.cancel()
            elif not claim.done.cancelled():
                claim.done.exception()  # ended (say by "*") while the claim was checked
            self._claims.remove(claim)
            self._claim_changed()

    def _claim_changed(self) -> None:
        self.dirty()
        if self.on_claim is not None:
            self.on_claim()
