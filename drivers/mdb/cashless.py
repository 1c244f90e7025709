"""``MdbCashlessReader``: a card reader at MDB address 10 (levels 1 to 3), MDB.md §4.

Set-up after every RESET: reader config (``11 00``, answered by ``01``
inline or on a later POLL), max/min prices (``11 01``), the identities at
level 2 and 3 (``17 00`` -> ``09``), level 3 options (``17 04``: "always
idle" when asked for and offered), then enable (``14 01``).  Its session
states: Enabled ->(``03`` BEGIN SESSION, idempotent) Session Idle ->(VEND
REQUEST) Vend ->(``05`` APPROVED with the amount to use / ``06`` DENIED, then
SUCCESS or FAILURE) Session Idle ->(SESSION COMPLETE, ``07``) Enabled.

Rules kept from the field (MDB.md §8):
- one command at a time: a command's reply may come instead of its ACK or on
  a later POLL, and every reply may chain several items, handled in order;
- a VEND REQUEST is timed here: no answer in ``vend_timeout_s`` -> CANCEL
  (``13 01``); an approval that arrives after all is given back (FAILURE);
- a JUST RESET after an approval, or in answer to SUCCESS or FAILURE, means
  the reader lost the vend (it counts an approved one as paid):
  ``vend_succeeded``/``vend_failed`` return False.  A bare ``0B`` (out of
  sequence) means the reader has no vend open although it did not reset:
  only our own earlier SUCCESS or FAILURE (sent before a crash) closes one,
  so it was done: True.  Either way the reader is set up again;
- nothing is RESET before the open card vends are settled: ``before_reset``
  and ``after_reset`` first await ``settle_first`` (the controller tells the
  reader the outcome of every open vend), and a reader that does not answer
  is not reset;
- a reader's cancel request (``04``) ends the session (SESSION COMPLETE).

It implements the controller's payment-medium calls (``request_vend``,
``vend_succeeded``, ``vend_failed``) and raises ``DeviceLost`` when silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from drivers.errors import DeviceLost
from drivers.mdb import cashless_proto as p
from drivers.mdb.block import CASHLESS
from drivers.mdb.device import DeviceState, MdbDevice, MdbIdentity
from drivers.mdb.link import MdbLink

log = logging.getLogger(__name__)
Item = p.Item
ENDS_A_WAIT = {Item.JUST_RESET, Item.OUT_OF_SEQUENCE}


@dataclass(frozen=True)
class CardSession:
    """A card at the reader: its funds in cents, or None when the reader cannot tell."""

    funds_cents: int | None


class MdbCashlessReader(MdbDevice):
    """A cashless reader on the MDB bus, as a payment medium."""

    address = CASHLESS
    non_response_s = 5.0
    name = "reader"
    poll_cmd = p.POLL

    def __init__(self, link: MdbLink, *, max_price_cents: int | None = None,
                 min_price_cents: int | None = None, always_idle: bool = False,
                 vend_timeout_s: float = 30.0, end_session_timeout_s: float = 5.0,
                 vmc_serial: str = "", **options: Any) -> None:
        super().__init__(link, **options)
        if vend_timeout_s <= 0 or end_session_timeout_s <= 0:
            raise ValueError("reader timeouts must be > 0")
        self.max_price_cents, self.min_price_cents = max_price_cents, min_price_cents
        self.want_always_idle = always_idle
        self.vend_timeout_s, self.end_session_timeout_s = vend_timeout_s, end_session_timeout_s
        self.vmc_serial = vmc_serial
        self.config: p.ReaderConfig | None = None
        self.always_idle = False
        self.reader_state = "inactive"  # inactive, disabled, enabled, session, vend
        self.session: CardSession | None = None
        self.last_malfunction: int | None = None
        self.on_session: Callable[[CardSession | None], None] | None = None
        self.settle_first: Callable[[], Awaitable[bool]] | None = None
        self._waiters: list[tuple[frozenset[int], asyncio.Future[p.ReplyItem]]] = []
        self._lost = False  # a JUST RESET since the last command
        self._out_of_sequence = False  # a 0B since the last command
        self._approved = False  # an approval not yet followed by SUCCESS or FAILURE
        self._approval_reset = False  # ... and the reader reset meanwhile: it counts as paid
        self._holder: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # a session ended at the reader's request

    # --- life cycle hooks (MdbDevice) --------------------------------------------------

    def is_just_reset(self, data: bytes) -> bool:
        items, _ = p.parse_items(data, self._level)
        return any(i.code == Item.JUST_RESET for i in items)

    async def before_reset(self) -> bool:
        return await self._settle_first()

    async def after_reset(self, *, unexpected: bool) -> None:
        if unexpected:
            await self._settle_first()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().close()

    async def on_lost(self) -> None:
        self._set_session(None)
        self._fail_waiters()

    async def setup(self) -> None:
        self._lost = False
        self.reader_state = "inactive"
        cfg_item = await self._ask(p.SETUP, p.setup_config(3), {Item.CONFIG},
                                   self.non_response_s)
        if cfg_item is None or cfg_item.code != Item.CONFIG:
            raise DeviceLost("MDB reader sent no reader config")
        self.config = cfg = p.parse_config(cfg_item)
        top = 0xFFFF if self.max_price_cents is None else cfg.units(self.max_price_cents)
        low = 0 if self.min_price_cents is None else cfg.units(self.min_price_cents)
        await self.command(p.SETUP, p.setup_prices(top, low))
        self.reader_state = "disabled"
        self.always_idle = False
        if cfg.level >= 2:
            ident = await self._ask(p.EXPANSION, p.vmc_id(serial=self.vmc_serial),
                                    {Item.PERIPHERAL_ID}, self.non_response_s)
            if ident is not None and ident.code == Item.PERIPHERAL_ID:
                self.identity = MdbIdentity.parse(ident.data)
                features = p.parse_id(ident).features
                if cfg.level >= 3 and self.want_always_idle and features & p.FEATURE_ALWAYS_IDLE:
                    await self.command(p.EXPANSION, p.enable_options(p.FEATURE_ALWAYS_IDLE))
                    self.always_idle = True
        await self.command(p.READER, bytes([p.READER_ENABLE]))
        self.reader_state = "enabled"
        self._lost = False

    async def handle_poll(self, data: bytes) -> bool:
        return self._handle(data)

    # --- the payment medium -------------------------------------------------------------

    @property
    def can_vend(self) -> bool:
        """A VEND REQUEST may go now: a session is open, or the reader is always idle."""
        return self.ready and (self.reader_state == "session"
                               or (self.reader_state == "enabled" and self.always_idle))

    async def request_vend(self, price_cents: int, item: int) -> int | None:
        """VEND REQUEST; the approved amount in cents, or None (denied, cancelled, no
        session, or no answer in ``vend_timeout_s``: then CANCEL)."""
        async with self._held():
            if not self.ready or self.config is None:
                raise DeviceLost("MDB reader is not ready")
            if not self.can_vend:
                return None
            try:
                units = self.config.units(price_cents)
            except ValueError as exc:
                log.warning("MDB reader: %s", exc)
                return None
            self.reader_state = "vend"
            self._approved = self._approval_reset = False
            answer = await self._ask(p.VEND, p.vend_request(units, item),
                                     {Item.APPROVED, Item.DENIED}, self.vend_timeout_s)
            if answer is None:  # no answer in time: withdraw the request
                answer = await self._ask(p.VEND, bytes([p.VEND_CANCEL]),
                                         {Item.APPROVED, Item.DENIED}, self.non_response_s)
                if answer is None or answer.code != Item.DENIED:
                    # approved after all, or an approval lost on the way (some readers
                    # drop a reply the VMC did not ACK): whatever it holds is released
                    log.warning("MDB reader: vend request timed out: FAILURE")
                    self._approved = True
                    await self._finish(bytes([p.VEND_FAILURE]))
                    return None
                self._back_to_session()
                return None
            if answer.code != Item.APPROVED:
                if answer.code == Item.DENIED:
                    self._back_to_session()
                return None
            self._approved = True
            return self.config.cents(answer.word())

    async def vend_succeeded(self, item: int) -> bool:
        """VEND SUCCESS: True when taken, False when the reader had lost the vend."""
        async with self._held():
            return await self._finish(p.vend_success(item))

    async def vend_failed(self, item: int) -> bool:
        """VEND FAILURE: True when the reader released it, False when it had no vend."""
        async with self._held():
            return await self._finish(bytes([p.VEND_FAILURE]))

    async def end_session(self) -> None:
        """SESSION COMPLETE, then END SESSION (``07``); no ``07`` in time: set up again."""
        async with self._held():
            if self.reader_state not in ("session", "vend") or not self.ready:
                return
            answer = await self._ask(p.VEND, bytes([p.SESSION_COMPLETE]), {Item.END_SESSION},
                                     self.end_session_timeout_s)
            if answer is None or answer.code != Item.END_SESSION:
                log.warning("MDB reader did not end the session: setting it up again")
                self._set_session(None)
                self.state = DeviceState.INITIALISING

    def state_json(self) -> dict[str, Any]:
        cfg = self.config
        return {"device": self.state.value, "state": self.reader_state,
                "level": cfg.level if cfg else None, "alwaysIdle": self.always_idle,
                "session": None if self.session is None
                else {"funds": self.session.funds_cents},
                "identity": self.identity.as_dict(), "lastMalfunction": self.last_malfunction}

    # --- inside -----------------------------------------------------------------------

    @property
    def _level(self) -> int:
        return self.config.level if self.config else 1

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        """The device, once per task (the life cycle's hooks already hold it)."""
        if self._holder is asyncio.current_task():
            yield
            return
        async with self.exclusive():
            self._holder = asyncio.current_task()
            try:
                yield
            finally:
                self._holder = None

    async def _settle_first(self) -> bool:
        if self.settle_first is None:
            return True
        self._holder = asyncio.current_task()
        try:
            return await self.settle_first()
        finally:
            self._holder = None

    async def _finish(self, data: bytes) -> bool:
        """SUCCESS or FAILURE, then the POLL that would bring ``0B`` or JUST RESET (a
        reset seen earlier by the poll loop is remembered since the approval)."""
        self._lost = self._out_of_sequence = False
        reply = await self.command(p.VEND, data)
        self._handle(reply.data)
        if not (self._lost or self._out_of_sequence):
            await asyncio.sleep(self.poll_interval_s)
            self._handle(await self.poll())
        lost = self._lost or self._approval_reset
        self._approved = self._approval_reset = False
        if lost or self._out_of_sequence:
            if lost:
                log.warning("MDB reader had lost the vend (it counts an approved one as paid)")
            if self.state is DeviceState.READY:
                self.state = DeviceState.INITIALISING  # the loop sets it up again
            return not lost
        self.reader_state = "session"  # an always-idle vend opened one too: SESSION COMPLETE
        return True

    def _back_to_session(self) -> None:
        self.reader_state = "session" if self.session is not None else "enabled"

    async def _ask(self, cmd: int, data: bytes, codes: Collection[int],
                   timeout_s: float) -> p.ReplyItem | None:
        """Send a command and poll until an item of ``codes`` (or a JUST RESET or out
        of sequence) comes, inline or later; None after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[p.ReplyItem] = loop.create_future()
        entry = (frozenset(codes) | ENDS_A_WAIT, future)
        self._waiters.append(entry)
        try:
            reply = await self.command(cmd, data)
            self._handle(reply.data)
            end = loop.time() + timeout_s
            while not future.done() and loop.time() < end:
                await asyncio.sleep(self.poll_interval_s)
                self._handle(await self.poll())
            return future.result() if future.done() else None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    def _handle(self, payload: bytes) -> bool:
        """Every item of one reply, in order; True when JUST RESET was among them."""
        items, rest = p.parse_items(payload, self._level)
        if rest:
            log.warning("MDB reader: reply bytes not understood: %s", rest.hex(" "))
        reset = False
        for item in items:
            reset |= self._item(item)
            for codes, future in list(self._waiters):
                if item.code in codes and not future.done():
                    future.set_result(item)
                    break
        return reset

    def _item(self, item: p.ReplyItem) -> bool:
        code = item.code
        if code == Item.JUST_RESET:
            self._lost = True
            self._approval_reset |= self._approved
            self.reader_state = "inactive"
            self._set_session(None)
            return True
        if code == Item.OUT_OF_SEQUENCE:
            self._out_of_sequence = True
        elif code == Item.CONFIG:
            self.config = p.parse_config(item)
        elif code == Item.BEGIN_SESSION:
            funds = item.word()
            cents = None if funds == p.UNKNOWN_FUNDS or self.config is None \
                else self.config.cents(funds)
            if self.reader_state in ("enabled", "session", "disabled"):
                self.reader_state = "session"
            self._set_session(CardSession(cents))
        elif code == Item.END_SESSION:
            self.reader_state = "enabled"
            self._set_session(None)
        elif code == Item.CANCEL_REQUEST:  # the reader wants the session ended
            if self.reader_state == "session":
                task = asyncio.get_running_loop().create_task(self.end_session())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif code == Item.MALFUNCTION:
            self.last_malfunction = item.data[0] if item.data else 0
            log.error("MDB reader malfunction %02X%s", self.last_malfunction,
                      " (refund failed: credit lost)" if self.last_malfunction & 0xF0 == 0xC0
                      else "")
        return False

    def _set_session(self, session: CardSession | None) -> None:
        if session == self.session:
            return  # BEGIN SESSION repeated on every POLL by some readers
        self.session = session
        if self.on_session is not None:
            self.on_session(session)

    def _fail_waiters(self) -> None:
        for _codes, future in self._waiters:
            if not future.done():
                future.set_exception(DeviceLost("MDB reader lost"))
