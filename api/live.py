"""Live pages: the machine's event stream (``controller/events.py``) pushed to browsers.

Two WebSockets, both on the page's own origin (a foreign ``Origin`` is refused
with 403 before the upgrade, so another site cannot open them from a visitor's
browser):

``GET /live/panel`` (sim mode, anyone): what the web front panel draws.
``GET /live/console`` (operators): what the operator console draws, and the
event log.  The access token comes in the first message, ``{"token": "...",
"after": lastEventId?}``, never in the URL (URLs end up in logs and history);
a later ``{"token": "..."}`` message swaps in a refreshed token.  The socket
closes with code 4401 when the token expires or its session ends, 4403 when
the account is not an operator, 4400 on a message it does not understand.

Messages from the server, one JSON object per text frame:

``{"type": "snapshot", "machine": {...}, "sim": {...}, "events": [...]}``
    on connect and after a ``resync``: everything the page shows.  ``machine``
    is what ``GET /machine`` answers; ``sim`` what ``GET /sim/state`` answers
    (panel only); ``events`` rows of the event log (console only).
``{"type": "machine", "machine": {...}}``   state, faults, credit, slots or coins changed.
``{"type": "display", "lines": [l1, l2]}``   the LCD shows new text (panel only).
``{"type": "world", "sim": {...}}``          the tray or the coin cup changed (panel only).
``{"type": "events", "events": [...]}``      new rows of the event log (console only).

Events that arrive together are answered together: one re-read of the
machine per batch, never one per event, so a burst costs one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from api.facade import MachineFacade
from api.throttle import client_key
from controller.errors import Forbidden, TooManyAttempts, ValidationError
from controller.events import MachineEvent, Subscription

log = logging.getLogger(__name__)

MACHINE_KINDS = frozenset({"state", "faults", "credit", "stock", "inventory", "device",
                           "card"})
"""Kinds after which the page re-reads the machine (``GET /machine``)."""
EVENT_LOG_KINDS = MACHINE_KINDS | {"journal", "vend", "payout", "coin"}
"""Kinds after which the console looks for new rows of the event log."""
MAX_SOCKETS = 64
UNAUTHENTICATED_PER_ADDRESS = 8
AUTH_TIMEOUT_S = 10.0
HEARTBEAT_S = 20.0
EVENT_BATCH = 500
RECENT_EVENTS = 50


def check_origin(request: web.Request) -> None:
    """Refuse (403) a WebSocket opened from a page of another origin, or with none."""
    origin = request.headers.get("Origin", "")
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
        raise Forbidden("a live page must be opened from this machine's own address")


@dataclass(eq=False)
class Place:
    """One live socket's place: where it comes from, and whether it has a slot yet."""

    address: str
    panel: bool
    slot: bool = False


class SocketRegistry:
    """The open live sockets of an app: bounded in number, closed on shutdown.

    A socket that has not authenticated (a console before its token, and a
    panel, which never does) counts against its address: at most
    ``per_address`` at once.  Only an authenticated console takes one of the
    ``limit`` console slots, so sockets that never say who they are cannot
    keep the operator's console out; panels have ``limit`` places of their own.
    """

    def __init__(self, limit: int = MAX_SOCKETS, per_address: int = UNAUTHENTICATED_PER_ADDRESS,
                 auth_timeout_s: float = AUTH_TIMEOUT_S) -> None:
        self.limit = limit
        self.per_address = per_address
        self.auth_timeout_s = auth_timeout_s
        """A console's first message must arrive this long after the upgrade, pings or not."""
        self._open: set[web.WebSocketResponse] = set()
        self._anonymous: dict[str, int] = {}
        self._panels = 0
        self._consoles = 0

    def enter(self, address: str, *, panel: bool) -> Place:
        """A place for a socket not yet authenticated (429 when the address has its share)."""
        if self._anonymous.get(address, 0) >= self.per_address:
            raise TooManyAttempts(f"at most {self.per_address} live pages from one address "
                                  "before they log in")
        if panel and self._panels >= self.limit:
            raise TooManyAttempts(f"at most {self.limit} live pages at a time")
        self._anonymous[address] = self._anonymous.get(address, 0) + 1
        self._panels += panel
        return Place(address, panel)

    def authenticated(self, place: Place) -> bool:
        """Swap the place for a console slot; False when every slot is taken."""
        if place.slot or place.panel:
            return True
        if self._consoles >= self.limit:
            return False
        self._consoles += 1
        place.slot = True
        self._left_anonymity(place.address)
        return True

    def leave(self, place: Place) -> None:
        """The socket closed (idempotent)."""
        if place.slot:
            self._consoles -= 1
            place.slot = False
            return
        if place.address in self._anonymous:
            self._left_anonymity(place.address)
            self._panels -= place.panel
            place.address = ""

    def _left_anonymity(self, address: str) -> None:
        left = self._anonymous.get(address, 1) - 1
        if left > 0:
            self._anonymous[address] = left
        else:
            self._anonymous.pop(address, None)

    def add(self, ws: web.WebSocketResponse) -> None:
        self._open.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._open.discard(ws)

    @property
    def count(self) -> int:
        return len(self._open)

    async def close_all(self) -> None:
        sockets = list(self._open)
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY,
                                                message=b"machine stopping"), 1.0)


SOCKETS_KEY: web.AppKey[SocketRegistry] = web.AppKey("live_sockets", SocketRegistry)


@dataclass
class Feed:
    """Turns batches of machine events into page messages for one socket."""

    machine: MachineFacade
    sim: bool
    event_log: bool
    last_event_id: int = 0

    async def snapshot(self) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "snapshot", "machine": await self.machine.state_json()}
        if self.sim:
            message["sim"] = self._sim_state()
        if self.event_log:
            message["events"] = await self._events_since_last()
        return message

    async def start_events_at(self, after: int | None) -> None:
        """The event log starts after ``after``, or with the last few rows when None."""
        if after is None:
            newest = await self.machine.last_event_id()
            after = max(0, newest - RECENT_EVENTS)
        self.last_event_id = after

    def _sim_state(self) -> dict[str, Any]:
        sim = self.machine.sim
        return sim.state() if sim is not None else {}

    async def messages(self, batch: list[MachineEvent]) -> list[dict[str, Any]]:
        kinds = {event.kind for event in batch}
        if "resync" in kinds:
            return [await self.snapshot()]
        out: list[dict[str, Any]] = []
        if self.sim:
            out += [{"type": "display", "lines": list(e.data.get("lines", []))}
                    for e in batch if e.kind == "display"]
        if kinds & MACHINE_KINDS:
            out.append({"type": "machine", "machine": await self.machine.state_json()})
        if self.sim and "world" in kinds:
            out.append({"type": "world", "sim": self._sim_state()})
        if self.event_log and kinds & EVENT_LOG_KINDS:
            rows = await self._events_since_last()
            if rows:
                out.append({"type": "events", "events": rows})
        return out

    async def _events_since_last(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            page = await self.machine.events(self.last_event_id, EVENT_BATCH)
            rows += page
            if page:
                self.last_event_id = int(page[-1]["id"])
            if len(page) < EVENT_BATCH or len(rows) >= 4 * EVENT_BATCH:
                return rows


def subscribe(machine: MachineFacade, kinds: Iterable[str]) -> Subscription:
    return machine.stream.subscribe(kinds)


async def pump(ws: web.WebSocketResponse, sub: Subscription, feed: Feed) -> None:
    """Send what each batch of events changed until the socket or the stream closes."""
    while not ws.closed:
        try:
            batch = [await sub.get()]
        except StopAsyncIteration:
            return
        while (event := sub.get_nowait()) is not None:
            batch.append(event)
        for message in await feed.messages(batch):
            if ws.closed:
                return
            await ws.send_json(message)


async def open_socket(request: web.Request, *, panel: bool
                      ) -> tuple[web.WebSocketResponse, Place]:
    """Origin checked, a place for a socket not yet authenticated taken, the upgrade done.

    The caller gives the place back (``registry.leave``) when the socket ends.
    """
    check_origin(request)
    if request.query_string:
        # a token never travels in a URL; nothing else does either
        raise ValidationError("a live socket takes no query parameters",
                              fields=dict.fromkeys(request.query, "unknown query parameter"))
    registry = request.app[SOCKETS_KEY]
    place = registry.enter(client_key(request.remote), panel=panel)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=16 * 1024)
    try:
        await ws.prepare(request)
    except BaseException:
        registry.leave(place)
        raise
    registry.add(ws)
    return ws, place


OnMessage = Callable[[web.WebSocketResponse, str], Awaitable[None]]


async def serve(ws: web.WebSocketResponse, request: web.Request, sub: Subscription,
                feed: Feed, on_message: OnMessage | None = None) -> None:
    """Run one live socket: the snapshot, then the pump, until either side closes.

    ``on_message(ws, text)`` handles what the browser sends; None ignores it.
    """
    registry = request.app[SOCKETS_KEY]
    task: asyncio.Task[None] | None = None
    try:
        await ws.send_json(await feed.snapshot())
        task = asyncio.create_task(pump(ws, sub, feed), name="live-pump")
        task.add_done_callback(lambda t: _pump_ended(ws, t))
        async for message in ws:
            if message.type == web.WSMsgType.TEXT and on_message is not None:
                await on_message(ws, message.data)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sub.close()
        registry.discard(ws)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await ws.close()


def _pump_ended(ws: web.WebSocketResponse, task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, ConnectionResetError):
        log.error("live page feed failed: %r", exc, exc_info=exc)
    if not ws.closed:
        # the stream ended (machine stopping) or the feed broke: the page reconnects
        asyncio.get_running_loop().create_task(
            ws.close(code=WSCloseCode.GOING_AWAY, message=b"feed ended"))
