"""The machine's one in-process event stream.

Every change a person or a program may want to follow is published here once:
FSM state, faults, credit, coins, vends, payouts, stock and coin inventory,
the LCD, the simulated world, and each row appended to the durable event log.
Pages, metrics, systemd status and fleet telemetry subscribe; none of them
polls the machine.

Publishing never blocks and never fails: each subscriber has a bounded queue,
and a subscriber that falls behind loses its oldest events and is told so by a
``resync`` event, after which it re-reads what it shows from the machine.  The
stream is not durable: the SQLite event log (``GET /machine/events``) is the
record, and the ``journal`` kind only says that it grew.

Kinds and their data (all values JSON-ready):

``state``      ``{state, previous}``: the FSM moved.
``faults``     ``{faults: [{device, reason, latched}]}``: the set of faults changed.
``credit``     ``{holder, cents}``: a holder's credit changed (``panel`` or ``user:ID``).
``coin``       ``{coin, holder, route}``: a coin was credited; ``route`` is
               ``hopper`` or ``cashbox``.
``vend``       ``{slot, productId, result, cents}``: a vend ended; ``result`` is
               ``paid`` or ``failed``; ``cents`` is the unit's price (charged
               only when paid).
``payout``     ``{holder, coins, unpaid}``: change or a refund was paid; ``coins``
               is the list of coin values paid, largest first.
``inventory``  ``{}``: coin counts (hoppers, cashbox) changed: re-read them.
``stock``      ``{slot}``: a slot's product, price, stock or status changed.
``account``    ``{userId}``: an account or its sessions changed (password, deleted,
               a session ended or refreshed); ``userId`` null when a session was
               ended by its id alone.
``display``    ``{lines: [line1, line2]}``: the LCD shows new text.
``device``     ``{device, ok, error}``: a device failed to answer (``ok`` false,
               with the error) or answers again (``ok`` true).
``card``       ``{present, funds}`` a card session began or ended at the reader
               (``funds`` null when unknown), or ``{cardVend, told, charged,
               refundOwed}`` a card vend was settled with the reader (``told``
               ``success``, ``failure`` or ``lost``; ``charged`` what the card paid).
``world``      ``{}``: the simulated world (tray, coin cup, spirals) changed.
``journal``    ``{lastId}``: rows up to ``lastId`` were committed to the event log.
``resync``     ``{dropped}``: only to a subscriber that fell behind.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

KINDS = frozenset({"state", "faults", "credit", "coin", "vend", "payout", "inventory",
                   "stock", "account", "display", "device", "card", "world", "journal",
                   "resync"})
DEFAULT_QUEUE_LEN = 1000


@dataclass(frozen=True, slots=True)
class MachineEvent:
    """One change, as published: what kind, its data, and when (epoch seconds).

    ``cpu_s`` is the process's CPU time at publication (``time.process_time``):
    the difference between two events, or between a stimulus and the event it
    caused, is the CPU the process spent meanwhile (the latency benchmark's
    controller time), whatever else ran on a busy machine.
    """

    kind: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)
    cpu_s: float = field(default_factory=time.process_time)


class Subscription:
    """A subscriber's bounded queue; iterate it, close it when done."""

    def __init__(self, stream: EventStream, kinds: frozenset[str] | None, maxlen: int) -> None:
        self._stream = stream
        self.kinds = kinds
        self._queue: collections.deque[MachineEvent] = collections.deque()
        self._maxlen = maxlen
        self._wake = asyncio.Event()
        self._dropped = 0
        self.closed = False

    def offer(self, event: MachineEvent) -> None:
        """Queue one event (called by the stream); drops the oldest when full."""
        if self.kinds is not None and event.kind not in self.kinds:
            return
        if len(self._queue) >= self._maxlen:
            self._queue.popleft()
            self._dropped += 1
        self._queue.append(event)
        self._wake.set()

    async def get(self) -> MachineEvent:
        """The next event; a ``resync`` first if events were dropped."""
        while not self._queue and not self._dropped:
            if self.closed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return MachineEvent("resync", {"dropped": dropped})
        return self._queue.popleft()

    def get_nowait(self) -> MachineEvent | None:
        """The next event if one is queued, else None."""
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return MachineEvent("resync", {"dropped": dropped})
        return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self.closed = True
        self._stream.unsubscribe(self)
        self._wake.set()

    def __aiter__(self) -> AsyncIterator[MachineEvent]:
        return self

    async def __anext__(self) -> MachineEvent:
        return await self.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventStream:
    """Publish once, deliver to every subscriber; never blocks the publisher."""

    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that ``publish_threadsafe`` hands events to."""
        self._loop = loop

    def publish_threadsafe(self, kind: str, **data: Any) -> None:
        """``publish`` from any thread (a simulator's, a pin callback's)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.publish(kind, **data)
        else:
            loop.call_soon_threadsafe(functools.partial(self.publish, kind, **data))

    def publish(self, kind: str, **data: Any) -> None:
        """Deliver ``kind`` with ``data`` to every subscriber (event loop thread only)."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event = MachineEvent(kind, data)
        self.published += 1
        for sub in list(self._subscribers):
            sub.offer(event)

    def subscribe(self, kinds: Iterable[str] | None = None, *,
                  maxlen: int = DEFAULT_QUEUE_LEN) -> Subscription:
        """A new subscription to ``kinds`` (all kinds when None)."""
        wanted = frozenset(kinds) if kinds is not None else None
        if wanted is not None and not wanted <= KINDS:
            raise ValueError(f"unknown event kinds {sorted(wanted - KINDS)}")
        sub = Subscription(self, wanted, maxlen)
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
