"""A simulated ccTalk bus on a pseudo-terminal.

``SimCctalkBus`` opens an ``os.openpty()`` pair in raw mode.  The real driver
opens the slave path (``port``) exactly as it would open a USB adapter; the
bus reads the master end on the event loop, cuts the byte stream into frames
(resynchronising after a gap, as device receivers do), drops frames with a bad
checksum or for an address nobody has (silence, like real devices), and hands
the rest to the device at that address.  Replies go out one after another,
after each device's reply delay.  With ``echo=True`` every byte the host sends
comes straight back first, as on a single-wire bus.

Not modelled: baud rate timing, collisions, broadcast requests, line noise
other than what a test writes with ``inject_noise``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import tty
from collections.abc import Iterable

from controller.money import COINS_CENTS
from drivers.cctalk.frame import ChecksumMode, FrameReader, decode
from drivers.errors import ProtocolError
from simulators.cctalk.acceptor import SimCctalkAcceptor
from simulators.cctalk.device import BoundedLog, SimCctalkDevice
from simulators.cctalk.hopper import SimCctalkHopper

log = logging.getLogger(__name__)


class SimCctalkBus:
    """One ccTalk bus carrying several simulated devices at distinct addresses."""

    def __init__(self, devices: Iterable[SimCctalkDevice] = (), *, echo: bool = False,
                 checksum: ChecksumMode = "simple", rx_gap_s: float = 0.02) -> None:
        self.echo = echo
        self.checksum: ChecksumMode = checksum
        self.rx_gap_s = rx_gap_s
        self.devices: dict[int, SimCctalkDevice] = {}
        self.acceptor: SimCctalkAcceptor | None = None
        self.hoppers: dict[int, SimCctalkHopper] = {}
        self.log: BoundedLog = BoundedLog()
        self.port = ""
        self._master = -1
        self._slave = -1
        self._reader = FrameReader()
        self._last_rx = 0.0
        self._replies: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        for device in devices:
            self.add(device)

    def add(self, device: SimCctalkDevice) -> None:
        if device.address in self.devices:
            raise ValueError(f"address {device.address} is taken on this bus")
        self.devices[device.address] = device
        if isinstance(device, SimCctalkAcceptor):
            self.acceptor = device
        if isinstance(device, SimCctalkHopper):
            self.hoppers[device.coin_cents] = device

    def device_named(self, name: str) -> SimCctalkDevice:
        """The device called ``name`` ("acceptor", "hopper:50")."""
        for device in self.devices.values():
            if device.name == name:
                return device
        raise KeyError(f"no device {name!r}")

    # --- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Open the pty pair and start serving requests."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        loop = asyncio.get_running_loop()
        loop.add_reader(self._master, self._on_readable)
        self._worker = loop.create_task(self._send_replies(), name="cctalk-sim-bus")
        for device in self.devices.values():
            await device.start()
        log.info("simulated ccTalk bus on %s with %s", self.port, sorted(self.devices))

    async def close(self) -> None:
        """Stop the devices and close both ends of the pty (idempotent)."""
        for device in self.devices.values():
            with contextlib.suppress(Exception):
                await device.close()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._master >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._master)
            for fd in (self._master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._master = self._slave = -1

    # --- bytes in -------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # no process holds the slave open right now
        now = time.monotonic()
        if now - self._last_rx > self.rx_gap_s:
            self._reader.clear()  # a gap ends any partial frame, as a UART receiver does
        self._last_rx = now
        self.log.append((now, "rx", data.hex(" ")))
        if self.echo:
            self._write(data)
        self._reader.feed(data)
        while (raw := self._reader.next_frame()) is not None:
            self._dispatch(raw, now)

    def _dispatch(self, raw: bytes, now: float) -> None:
        try:
            frame = decode(raw, self.checksum)
        except ProtocolError:
            self.log.append((now, "ignored", raw.hex(" ")))
            return
        device = self.devices.get(frame.dest)
        if device is None:
            return
        outcome = device.reply_for(frame, raw, self.checksum)
        if outcome is not None:
            delay, reply = outcome
            self._replies.put_nowait((now + delay, reply))

    # --- bytes out -------------------------------------------------------------------

    async def _send_replies(self) -> None:
        while True:
            due, reply = await self._replies.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._write(reply)

    def _write(self, data: bytes) -> None:
        if self._master < 0:
            return
        try:
            os.write(self._master, data)
            self.log.append((time.monotonic(), "tx", data.hex(" ")))
        except OSError as exc:
            log.warning("simulated ccTalk bus dropped %d bytes: %s", len(data), exc)

    def inject_noise(self, data: bytes) -> None:
        """Put raw bytes on the line towards the host (line noise, a stray device)."""
        self._write(data)


DEFAULT_HOPPER_ADDRESSES = {coin: 3 + i for i, coin in enumerate(COINS_CENTS)}
