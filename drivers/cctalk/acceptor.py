"""The ccTalk coin acceptor (validator) driver.

``CctalkCoinAcceptor`` identifies the device as hosts do (``identity.py``:
manufacturer, category, product code, serial, revisions), learns which coin sits at which
position from its coin ids, keeps the inhibit registers (231 per coin, 228
master) in the state the controller asked for, and polls the buffered credit
(229).  Each poll's new events go to the handler as one ``CoinBatch`` with the
device's event counter; the driver's own "last seen" counter advances only
after the handler returned, so a handler that fails sees the same events again.

What differs between acceptor models is read from the device: a position
whose coin id request is NAKed is not fitted; a device that NAKs the master
inhibit (228) refuses coins through its per-coin inhibits (231) instead.  A
reset between two polls shows as the same counter over other pairs, or as a
counter below the last one with null pairs behind the new events (the buffer
is cleared at a reset): the events are delivered after a ``DEVICE_RESET``,
not reported lost.

Not modelled: sorter path control, the coin acceptor's own escrow, bill
validators, and a reset between two polls on a device that keeps its old
pairs through a reset (reported as events lost: ccTalk cannot tell it apart
from a counter that moved on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection

from drivers.base import CoinAcceptor, CoinBatch, CoinEvent, CoinEventKind, CoinHandler
from drivers.cctalk.acceptor_events import classify
from drivers.cctalk.coins import (
    EVENT_PAIRS,
    POSITIONS,
    CoinMapConfig,
    inhibit_mask,
    new_event_count,
    parse_coin_id,
    resolve_coin_values,
)
from drivers.cctalk.frame import Header
from drivers.cctalk.identity import read_identity
from drivers.cctalk.link import CctalkLink
from drivers.errors import (
    DeviceBusy,
    DeviceLost,
    DeviceNak,
    HardwareError,
    NotStarted,
    ProtocolError,
)
from drivers.heartbeat import Heartbeat

log = logging.getLogger(__name__)

CATEGORY = "Coin Acceptor"
BUFFER_REPLY_LEN = 1 + 2 * EVENT_PAIRS


class CctalkCoinAcceptor(CoinAcceptor):
    """A ccTalk coin acceptor on a shared ``CctalkLink`` (which it does not close)."""

    def __init__(self, link: CctalkLink, *, address: int = 2, poll_interval_s: float = 0.1,
                 lost_poll_interval_s: float = 1.0, coin_map: CoinMapConfig | None = None,
                 refused_polls_lost: int = 5, name: str = "acceptor") -> None:
        if not 2 <= address <= 255:
            raise ValueError(f"ccTalk device address {address} must be 2..255")
        if poll_interval_s <= 0 or lost_poll_interval_s <= 0:
            raise ValueError("poll intervals must be > 0")
        if refused_polls_lost < 1:
            raise ValueError("refused_polls_lost must be >= 1")
        self.name = name
        self.link = link
        self.address = address
        self.poll_interval_s = poll_interval_s
        self.lost_poll_interval_s = lost_poll_interval_s
        self._coin_map = dict(coin_map or {})
        self._values: dict[int, int] = {}
        self._coin_ids: dict[int, str | None] = {}
        self._enabled: frozenset[int] | None = None  # None: every known coin
        self._accepting = False
        self._has_master_inhibit = True  # header 228; a device that NAKs it has none
        self._handler: CoinHandler | None = None
        self._last_counter = 0
        self._last_buffer: bytes | None = None  # the 229 data behind _last_counter
        self._lost = False
        # a device that refuses (NAK, BUSY, garbage) poll after poll is not read either,
        # while its coin mechanism may go on taking coins: as bad as a lost one
        self.refused_polls_lost = refused_polls_lost
        self._refused_polls = 0
        self._started = False
        self._task: asyncio.Task[None] | None = None
        self.heartbeat: Heartbeat = Heartbeat(f"{name}-poll")

    # --- CoinAcceptor --------------------------------------------------------

    def set_handler(self, handler: CoinHandler) -> None:
        self._handler = handler

    async def start(self, *, resume_counter: int | None = None) -> None:
        """Identify the device, read coin ids, set inhibits, start polling.

        ``resume_counter`` is the last counter the controller stored with a
        credit.  None means the controller has no record (a first start): the
        device's current counter becomes the baseline and its buffered events
        are not credited, because nothing can tell which of them a previous
        owner of the device already paid out or credited.
        """
        await self.link.request(self.address, Header.SIMPLE_POLL, reply_len=0)
        self.identity = await read_identity(self.link, self.address)
        if self.identity.category != CATEGORY:
            raise ProtocolError(f"device {self.address} is a {self.identity.category!r}, "
                                f"not a {CATEGORY}")
        await self._read_coin_ids()
        data = await self._read_buffer()
        counter = data[0]
        self._last_counter = counter if resume_counter is None else resume_counter
        self._last_buffer = data if counter == self._last_counter else None
        log.info("%s: coins %s, event counter %d, resuming from %d", self.name,
                 self._values, counter, self._last_counter)
        await self._send_inhibits()
        self._started = True
        self.heartbeat.beat()
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-poll")

    async def set_accepting(self, accepting: bool) -> None:
        self._accepting = accepting
        if self._started:
            await (self._send_master_inhibit() if self._has_master_inhibit
                   else self._send_coin_inhibits())

    async def set_coins_enabled(self, coins_cents: Collection[int]) -> None:
        unknown = set(coins_cents) - set(self._values.values())
        if self._values and unknown:
            log.warning("%s: cannot enable unknown coins %s", self.name, sorted(unknown))
        self._enabled = frozenset(coins_cents)
        if self._started:
            await self._send_coin_inhibits()

    @property
    def known_coins_cents(self) -> frozenset[int]:
        return frozenset(self._values.values())

    @property
    def accepting(self) -> bool:
        return self._accepting

    @property
    def coin_positions(self) -> dict[int, int]:
        """Position -> coin value in cents, as learnt at start-up."""
        return dict(self._values)

    @property
    def last_counter(self) -> int:
        """The event counter of the last batch the handler took."""
        return self._last_counter

    @property
    def event_counter(self) -> int | None:
        return self._last_counter

    async def close(self) -> None:
        """Stop polling and inhibit every coin (best effort, bounded)."""
        self._started = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.heartbeat.stopped()
        header, refuse_all = ((Header.MODIFY_MASTER_INHIBIT, b"\x00") if self._has_master_inhibit
                              else (Header.MODIFY_INHIBIT_STATUS, b"\x00\x00"))
        with contextlib.suppress(HardwareError):
            await self.link.request(self.address, header, refuse_all, retries=1, reply_len=0)

    # --- start-up ------------------------------------------------------------

    async def _read_coin_ids(self) -> None:
        for position in POSITIONS:
            try:
                raw = await self.link.request(self.address, Header.COIN_ID, bytes((position,)))
            except DeviceNak:
                raw = b""  # a device with fewer positions refuses the others
            self._coin_ids[position] = parse_coin_id(raw)
        self._values = resolve_coin_values(self._coin_ids, self._coin_map)

    # --- inhibits --------------------------------------------------------------

    async def _send_inhibits(self) -> None:
        """Master inhibit first (learning whether there is one), then the coins'."""
        try:
            await self._send_master_inhibit()
            self._has_master_inhibit = True
        except DeviceNak:
            if self._has_master_inhibit:
                log.info("%s: master inhibit (228) refused: coins are refused through "
                         "their inhibits (231)", self.name)
            self._has_master_inhibit = False
        await self._send_coin_inhibits()

    async def _send_coin_inhibits(self) -> None:
        enabled = self.known_coins_cents if self._enabled is None else self._enabled
        if not (self._accepting or self._has_master_inhibit):
            enabled = frozenset()
        mask = inhibit_mask(self._values, enabled)
        await self.link.request(self.address, Header.MODIFY_INHIBIT_STATUS, mask, reply_len=0)

    async def _send_master_inhibit(self) -> None:
        # bit 0 = 1 is NORMAL operation; 0 accepts nothing.
        data = b"\x01" if self._accepting else b"\x00"
        await self.link.request(self.address, Header.MODIFY_MASTER_INHIBIT, data, reply_len=0)

    async def _resend_inhibits(self) -> None:
        try:
            await self._send_inhibits()
        except HardwareError as exc:
            log.warning("%s: could not re-send inhibits: %s", self.name, exc)

    # --- polling ---------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.heartbeat.beat()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: poll failed; same events next time", self.name)
            await asyncio.sleep(self.lost_poll_interval_s if self._lost
                                else self.poll_interval_s)

    async def poll_once(self) -> None:
        """Read the credit buffer once and deliver what is new."""
        try:
            data = await self._read_buffer()
        except DeviceLost as exc:
            if not self._lost:
                self._lost = True
                log.error("%s: %s", self.name, exc)
                await self._notify(CoinEventKind.DEVICE_LOST)
            return
        except (DeviceNak, DeviceBusy, ProtocolError) as exc:
            self._refused_polls += 1
            log.warning("%s: poll refused (%d in a row): %s", self.name, self._refused_polls,
                        exc)
            if self._refused_polls >= self.refused_polls_lost and not self._lost:
                self._lost = True
                log.error("%s: %d polls refused in a row: treated as lost", self.name,
                          self._refused_polls)
                await self._notify(CoinEventKind.DEVICE_LOST)
            return
        self._refused_polls = 0
        if self._lost:
            self._lost = False
            log.info("%s: device answers again", self.name)
            await self._notify(CoinEventKind.DEVICE_BACK)
            await self._resend_inhibits()
        await self._process(data)

    async def _read_buffer(self) -> bytes:
        return await self.link.request(self.address, Header.READ_BUFFERED_CREDIT,
                                       reply_len=BUFFER_REPLY_LEN)

    async def _process(self, data: bytes) -> None:
        counter = data[0]
        if counter == 0 and self._last_counter == 0:
            return
        if counter == 0:
            events = [CoinEvent(CoinEventKind.DEVICE_RESET)]
        elif self._reset_since_last_poll(counter, data):
            events = [CoinEvent(CoinEventKind.DEVICE_RESET),
                      *self._new_events(counter, data, since=0)]
        else:
            events = self._new_events(counter, data)
            if not events and new_event_count(counter, self._last_counter) == 0:
                return
        if any(e.kind in (CoinEventKind.DEVICE_RESET, CoinEventKind.INHIBITED) for e in events):
            await self._resend_inhibits()
        await self._deliver(CoinBatch(tuple(events), counter))
        self._last_counter, self._last_buffer = counter, data

    def _reset_since_last_poll(self, counter: int, data: bytes) -> bool:
        """Whether the device reset since the last poll and then took ``counter`` events.

        Seen as the same counter over different pairs (a 255-event round trip in
        one poll interval is impossible), or as more new events than the device
        can have taken since its buffer was cleared (null pairs behind them).
        """
        count = new_event_count(counter, self._last_counter)
        if count == 0:
            return self._last_buffer is not None and data != self._last_buffer
        return counter < min(count, EVENT_PAIRS) and not any(data[1 + 2 * counter:])

    def _new_events(self, counter: int, data: bytes,
                    since: int | None = None) -> list[CoinEvent]:
        count = new_event_count(counter, self._last_counter if since is None else since)
        events: list[CoinEvent] = []
        if count > EVENT_PAIRS:
            # Below 5 the counter went round or the device reset (keeping old pairs
            # on some models): only the newest ``counter`` pairs are surely new.
            certain = min(counter, EVENT_PAIRS)
            events.append(CoinEvent(CoinEventKind.EVENTS_LOST, code=count - certain))
            count = certain
        pairs = [(data[1 + 2 * i], data[2 + 2 * i]) for i in range(count)]
        for a, b in reversed(pairs):  # the device lists newest first
            if a == 0 and b == 0:
                continue  # the null event: an empty slot after a reset
            events.append(self._event(a, b))
        return events

    def _event(self, a: int, b: int) -> CoinEvent:
        if a == 0:
            return self._status_event(b)
        value = self._values.get(a)
        if value is None:
            return CoinEvent(CoinEventKind.ALARM, code=b, position=a)
        return CoinEvent(CoinEventKind.CREDIT, value_cents=value, code=b, position=a)

    def _status_event(self, code: int) -> CoinEvent:
        """An A = 0 event, classified and logged with its meaning."""
        known = classify(code)
        level = logging.WARNING if known.alert else logging.INFO
        log.log(level, "%s: event %d (%s): %s", self.name, code, known.kind.value, known.meaning)
        return CoinEvent(known.kind, code=code, meaning=known.meaning, alert=known.alert)

    async def _deliver(self, batch: CoinBatch) -> None:
        if self._handler is None:
            raise NotStarted(f"{self.name}: no handler; events kept for the next poll")
        await self._handler(batch)

    async def _notify(self, kind: CoinEventKind) -> None:
        """Deliver a status event once; a failing handler is logged, not retried."""
        if self._handler is None:
            return
        try:
            await self._handler(CoinBatch((CoinEvent(kind),), None))
        except Exception:
            log.exception("%s: handler failed on %s", self.name, kind)
