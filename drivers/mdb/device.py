"""``MdbDevice``: the life cycle every MDB peripheral shares (MDB 4.2 §2-3).

    RESET -> POLL until JUST RESET -> setup (identity, levels, types) -> enable
          -> POLL every ``poll_interval_s`` (25-200 ms), each reply handed to
             ``handle_poll``
    no answer for the device's non-response time (changer 2 s, bill and
    cashless 5 s) -> OFFLINE: the listener hears it (a scoped fault), and a
    RESET is sent every ``reset_retry_s`` (10 s) until the device answers,
    then setup again and the listener hears it is back.
    an unexpected JUST RESET while ready -> setup again, then ``after_reset``
    lets the device reconcile what the reset may have cut short.

Inside the non-response time a command that met silence or a NAK is sent
again (``command(repeat=True)``); a command that must never be sent twice
(DISPENSE, ALTERNATIVE PAYOUT, ESCROW) is sent once (``repeat=False``) and
its effect read back from the device instead.

Whoever needs several blocks in a row with no POLL of the loop in between
(a payout, an escrow decision) holds ``exclusive()``.  Listeners and
``handle_poll`` run with the device held: they must not wait for it; what
the controller must hear is handed over in ``after_round``, with the device
free.  The poll loop never
dies: every exception inside a round is logged and that round ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from drivers.errors import DeviceLost, NotStarted
from drivers.heartbeat import Heartbeat
from drivers.mdb.block import POLL, RESET, Reply, ReplyKind
from drivers.mdb.link import MdbLink

log = logging.getLogger(__name__)


class DeviceState(enum.StrEnum):
    """Where a device is in its life cycle."""

    STOPPED = "stopped"  # not started, or closed
    INITIALISING = "initialising"  # RESET sent, waiting for JUST RESET, setting up
    READY = "ready"  # set up and polled
    OFFLINE = "offline"  # silent past its non-response time: RESET every 10 s


@dataclass(frozen=True, slots=True)
class MdbIdentity:
    """What a peripheral says about itself (EXPANSION ID), blank when it cannot."""

    manufacturer: str = ""
    serial: str = ""
    model: str = ""
    software_version: str = ""

    @classmethod
    def parse(cls, data: bytes) -> MdbIdentity:
        """From an ID reply: maker 3, serial 12, model 12 (ASCII), software 2 BCD."""
        def text(raw: bytes) -> str:
            return raw.decode("ascii", "replace").strip(" \x00")
        sw = data[27:29].hex() if len(data) >= 29 else ""
        return cls(text(data[0:3]), text(data[3:15]), text(data[15:27]), sw)

    def as_dict(self) -> dict[str, str]:
        return {"manufacturer": self.manufacturer, "serial": self.serial,
                "model": self.model, "softwareVersion": self.software_version}


StateListener = Callable[["MdbDevice", DeviceState, str], Awaitable[None]]


class MdbDevice(ABC):
    """One peripheral on an MDB bus; subclasses say how to set it up and read its POLLs.

    A subclass sets ``address`` (the base address: 08, 10, 30, 60) and
    ``non_response_s``, and implements ``is_just_reset``, ``setup`` and
    ``handle_poll``; it may override ``after_reset`` and ``on_lost``.
    """

    address: int
    non_response_s: float
    name: str = "mdb"
    poll_cmd: int = POLL  # the POLL offset: 3 for changer and bills, 2 for a cashless reader

    def __init__(self, link: MdbLink, *, poll_interval_s: float = 0.1,
                 reset_retry_s: float = 10.0, init_timeout_s: float | None = None,
                 non_response_s: float | None = None) -> None:
        if not 0.001 <= poll_interval_s <= 0.2:
            raise ValueError("poll_interval_s must be within 1-200 ms")
        if reset_retry_s <= 0:
            raise ValueError("reset_retry_s must be > 0")
        if non_response_s is not None:
            if non_response_s <= 0:
                raise ValueError("non_response_s must be > 0")
            self.non_response_s = non_response_s
        self.link = link
        self.poll_interval_s = poll_interval_s
        self.reset_retry_s = reset_retry_s
        self.init_timeout_s = init_timeout_s or max(self.non_response_s, 5.0)
        self.state = DeviceState.STOPPED
        self.detail = ""
        self.heartbeat = Heartbeat(f"{self.name}-poll")
        self.identity = MdbIdentity()
        self.last_poll_at: float | None = None  # loop time of the last answered POLL
        self._listeners: list[StateListener] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._state_event = asyncio.Event()  # set (and replaced) at every change of state

    # --- what a subclass provides -------------------------------------------------

    @abstractmethod
    def is_just_reset(self, data: bytes) -> bool:
        """Whether a POLL reply holds this device's JUST RESET item."""

    @abstractmethod
    async def setup(self) -> None:
        """Read the setup and identity, then enable the device (raise DeviceLost on silence)."""

    @abstractmethod
    async def handle_poll(self, data: bytes) -> bool:
        """Act on every item of one POLL reply, in order; True if JUST RESET was among them."""

    async def after_reset(self, *, unexpected: bool) -> None:
        """Called once set up after every (re)initialisation; ``unexpected`` when the
        device reset itself mid-work.  Reconcile here what the reset may have cut."""
        return None

    async def before_reset(self) -> bool:
        """Called (holding the device) before every RESET of the life cycle.  A device
        that must first settle something with the peripheral (a card reader counts an
        approved vend as paid on RESET) does it here; False: the device is not
        answering, no RESET this time (tried again in ``reset_retry_s``)."""
        return True

    async def on_lost(self) -> None:
        """Called when the device went silent past its non-response time."""
        return None

    async def after_round(self) -> None:
        """Called after every round of the loop, with the device not held: hand what
        the round found to the controller here (it may call back into the device)."""
        return None

    # --- life cycle ----------------------------------------------------------------

    def add_listener(self, listener: StateListener) -> None:
        """Hear every change of state (with a reason): faults and their heals."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start the life cycle in the background (returns at once)."""
        if self._task is not None:
            return
        self.state = DeviceState.INITIALISING
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-mdb")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = DeviceState.STOPPED
        self.heartbeat.stopped()

    @property
    def ready(self) -> bool:
        """Set up and polled (not initialising, offline or stopped)."""
        return self.state is DeviceState.READY

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the device is READY (True) or ``timeout_s`` passes (False)."""
        await self._wait_state(lambda: self.ready, timeout_s)
        return self.ready

    async def wait_initialised(self, timeout_s: float) -> None:
        """Wait while the device is initialising (it ends READY or OFFLINE), at most
        ``timeout_s``."""
        await self._wait_state(lambda: self.state is not DeviceState.INITIALISING, timeout_s)

    async def _wait_state(self, done: Callable[[], bool], timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not done():
                    await self._state_event.wait()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the device: the poll loop waits until the block ends."""
        if self._task is None:
            raise NotStarted(f"MDB {self.name} is not started")
        async with self._lock:
            yield

    # --- blocks --------------------------------------------------------------------

    async def command(self, cmd: int, data: bytes = b"", *, repeat: bool = True) -> Reply:
        """Send ``cmd`` (0-7, or the address byte's low bits) with ``data``.

        With ``repeat`` a silent or NAK answer is sent again until the device's
        non-response time has passed; then DeviceLost.  Without it one try:
        the reply is returned whatever it is (silence included).
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.non_response_s
        while True:
            reply = await self.link.transact(self.address | (cmd & 0x07), data)
            if reply.kind in (ReplyKind.ACK, ReplyKind.DATA) or not repeat:
                return reply
            if loop.time() >= give_up:
                raise DeviceLost(f"MDB {self.name} silent for {self.non_response_s:g} s "
                                 f"(command {cmd:#04x}: {reply})")
            await asyncio.sleep(0.01)

    async def poll(self) -> bytes:
        """One POLL (repeated inside the non-response time): its data, b"" for ACK."""
        reply = await self.command(self.poll_cmd)
        self.last_poll_at = asyncio.get_running_loop().time()
        return reply.data

    # --- the loop ------------------------------------------------------------------

    async def _run(self) -> None:
        unexpected = False
        while True:
            self.heartbeat.beat()
            try:
                if self.state is not DeviceState.READY:
                    await self._initialise(unexpected=unexpected)
                    if self.ready:
                        unexpected = False
                    else:
                        self.heartbeat.waiting()
                        await asyncio.sleep(self.reset_retry_s)
                    continue
                await asyncio.sleep(self.poll_interval_s)
                async with self._lock:
                    if self.state is not DeviceState.READY:
                        continue
                    if await self.handle_poll(await self.poll()):
                        log.warning("MDB %s reset itself: setting it up again", self.name)
                        await self._set_state(DeviceState.INITIALISING, "the device reset itself")
                        await self._setup_and_reconcile(unexpected=True)
            except DeviceLost as exc:
                await self._lose(str(exc))
                unexpected = True  # whatever was under way is reconciled once it is back
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive any one bad round
                log.exception("MDB %s poll round failed", self.name)
                await asyncio.sleep(self.poll_interval_s)
            try:
                await self.after_round()
            except Exception:
                log.exception("MDB %s: handing over a round failed", self.name)

    async def _initialise(self, *, unexpected: bool) -> None:
        """RESET, POLL until JUST RESET, set up; RESET again every reset_retry_s."""
        async with self._lock:
            if not await self.before_reset():
                await self._lose(f"MDB {self.name} does not answer")
                return
            reply = await self.link.transact(self.address | RESET)
            if not reply.answered:
                await self._lose(f"MDB {self.name} does not answer RESET")
                return
            loop = asyncio.get_running_loop()
            end = loop.time() + self.init_timeout_s
            while not self.is_just_reset(await self.poll()):
                if loop.time() >= end:
                    raise DeviceLost(f"MDB {self.name} never reported JUST RESET")
                await asyncio.sleep(self.poll_interval_s)
            await self._setup_and_reconcile(unexpected=unexpected)

    async def _setup_and_reconcile(self, *, unexpected: bool) -> None:
        await self.setup()
        was_offline = self.state is DeviceState.OFFLINE
        await self._set_state(DeviceState.READY, "answers again" if was_offline else "set up")
        await self.after_reset(unexpected=unexpected)

    async def _lose(self, why: str) -> None:
        if self.state is DeviceState.OFFLINE:
            return
        log.error("MDB %s lost: %s", self.name, why)
        await self._set_state(DeviceState.OFFLINE, why)
        with contextlib.suppress(Exception):
            await self.on_lost()

    async def _set_state(self, state: DeviceState, why: str) -> None:
        if state is self.state:
            return
        self.state, self.detail = state, why
        self._state_event.set()
        self._state_event = asyncio.Event()
        for listener in self._listeners:
            try:
                await listener(self, state, why)
            except Exception:
                log.exception("MDB %s state listener failed", self.name)


async def offer_events(sink: Callable[[list[Any]], Awaitable[None]], batch: list[Any],
                       what: str) -> bool:
    """Hand ``batch`` to the controller's ``sink``: True when it was taken.  Called with
    the device not held (the sink may call back); a sink not started yet, or one that
    raised, leaves the batch to be offered again at the next poll."""
    try:
        await sink(batch)
    except NotStarted:
        return False
    except Exception:
        log.exception("%s not taken, offered again at the next poll", what)
        return False
    return True
