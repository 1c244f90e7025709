"""The ccTalk bus master: one request, one reply, one at a time.

``CctalkLink`` owns the serial port of one ccTalk bus.  It serialises
transactions with a lock, flushes stale input before each request, strips
the echo of the request on a single-wire bus, verifies every reply (checksum,
addressed to the host, sent by the device asked), retries a bounded number of
times on a timeout or a corrupt reply, and maps NAK and BUSY to exceptions.

The port is opened with pyserial in non-blocking mode and read through the
event loop's ``add_reader``, so nothing here blocks the loop.  A reply is
complete when its length byte says so; a partial frame is abandoned after
``inter_byte_timeout_s`` of silence.  A port that hangs up (adapter
unplugged) makes requests fail with DeviceLost, and the next request tries
to open it again; so does a port that could not be opened at all
(``start(defer=True)``: the adapter is not plugged in at start-up).

Not modelled: multi-drop address clash resolution, encryption, baud rate
switching, and broadcast requests (a broadcast has no single reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
import time
from typing import Literal

import serial

from drivers.cctalk.frame import (
    ChecksumMode,
    Frame,
    FrameReader,
    Header,
    decode,
    encode,
)
from drivers.errors import (
    DeviceBusy,
    DeviceLost,
    DeviceNak,
    DriverTimeout,
    HardwareError,
    ProtocolError,
)

log = logging.getLogger(__name__)

EchoMode = Literal["auto", "on", "off"]
ReplyLen = int | frozenset[int] | None


class CctalkLink:
    """The host end of one ccTalk bus on a serial port (a tty path)."""

    def __init__(self, port: str, *, baudrate: int = 9600, echo: EchoMode = "auto",
                 checksum: ChecksumMode = "simple", reply_timeout_s: float = 0.1,
                 retries: int = 3, host_address: int = 1,
                 inter_byte_timeout_s: float = 0.05) -> None:
        if echo not in ("auto", "on", "off"):
            raise ValueError(f"echo must be auto, on or off, not {echo!r}")
        if checksum not in ("simple", "crc16"):
            raise ValueError(f"checksum must be simple or crc16, not {checksum!r}")
        if reply_timeout_s <= 0 or retries < 0 or not 1 <= host_address <= 255:
            raise ValueError("reply_timeout_s > 0, retries >= 0, host_address 1..255")
        if inter_byte_timeout_s <= 0:
            raise ValueError("inter_byte_timeout_s must be > 0")
        self.port = port
        self.baudrate = baudrate
        self.echo: EchoMode = echo
        self.checksum: ChecksumMode = checksum
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self.host_address = host_address
        self.inter_byte_timeout_s = inter_byte_timeout_s
        self._echo_seen: bool | None = None if echo == "auto" else echo == "on"
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._reader = FrameReader()
        self._rx_event = asyncio.Event()
        self._lock = asyncio.Lock()
        self._broken: str | None = None
        self._closed = False
        self._last_rx = 0.0

    # --- life cycle --------------------------------------------------------

    async def start(self, *, defer: bool = False) -> None:
        """Open the port (8N1, non-blocking) and start reading it.

        With ``defer``, a port that cannot be opened is not an error here:
        it is logged, and every request tries to open it again (and fails
        with DeviceLost until it can).
        """
        if self._serial is not None:
            return
        if defer:
            try:
                await self.start()
            except (OSError, serial.SerialException) as exc:
                self._broken = f"cannot be opened: {exc}"
                log.error("ccTalk port %s cannot be opened (retried on every request): %s",
                          self.port, exc)
            return
        self._serial = serial.Serial(self.port, self.baudrate, bytesize=8, parity="N",
                                     stopbits=1, timeout=0, write_timeout=0)
        self._fd = self._serial.fileno()
        self._broken = None
        self._closed = False
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        log.info("ccTalk link open on %s (%d baud, echo %s, %s checksum)",
                 self.port, self.baudrate, self.echo, self.checksum)

    async def close(self) -> None:
        """Stop reading and close the port; waits for a running transaction."""
        self._closed = True  # closed by its owner: no request opens it again
        if self._serial is None:
            return
        async with self._lock:
            ser, self._serial = self._serial, None
            if ser is None:
                return
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            with contextlib.suppress(Exception):
                ser.close()
            self._fd = -1

    async def _reopen(self) -> None:
        """Try the port again after it failed (a USB adapter plugged back in)."""
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.close()
        try:
            await self.start()
        except (OSError, serial.SerialException) as exc:
            self._serial = None
            raise DeviceLost(f"serial port {self.port} cannot be opened: {exc}") from exc

    @property
    def echo_detected(self) -> bool | None:
        """Whether the bus echoes requests (None while ``auto`` has not seen a reply)."""
        return self._echo_seen

    # --- the public request ------------------------------------------------

    async def request(self, address: int, header: int, data: bytes = b"", *,
                      retries: int | None = None, reply_len: ReplyLen = None) -> bytes:
        """Send one request and return the ACK reply's data bytes.

        ``retries`` overrides the link's retry count (0 for requests that must
        not be repeated blindly, such as a dispense).  ``reply_len``, when
        given, is the only data length (or the set of lengths) accepted: a
        reply of another length is treated as a stale answer to an earlier
        request and ignored.

        Raises DeviceNak, DeviceBusy, or DeviceLost after the last attempt
        timed out or came back corrupt (the cause is chained).
        """
        attempts = 1 + (self.retries if retries is None else retries)
        frame = encode(address, self.host_address, header, data, self.checksum)
        last_error: HardwareError | None = None
        async with self._lock:
            if self._broken and not self._closed:
                await self._reopen()
            for attempt in range(1, attempts + 1):
                try:
                    reply = await self._transaction(address, frame, reply_len)
                except (DriverTimeout, ProtocolError) as exc:
                    last_error = exc
                    log.debug("ccTalk %d header %d attempt %d/%d: %s",
                              address, header, attempt, attempts, exc)
                    continue
                return self._check_reply(address, header, reply)
        raise DeviceLost(f"ccTalk device {address} lost: header {header} failed "
                         f"{attempts} time(s): {last_error}") from last_error

    @staticmethod
    def _check_reply(address: int, header: int, reply: Frame) -> bytes:
        if reply.header == Header.ACK:
            return reply.data
        if reply.header == Header.NAK:
            raise DeviceNak(f"ccTalk device {address} answered NAK to header {header}")
        if reply.header == Header.BUSY:
            raise DeviceBusy(f"ccTalk device {address} answered BUSY to header {header}")
        raise ProtocolError(f"ccTalk device {address} answered header {reply.header}")

    # --- one attempt --------------------------------------------------------

    async def _transaction(self, address: int, frame: bytes, reply_len: ReplyLen) -> Frame:
        self._flush_input()
        await self._write_all(frame)
        log.debug("ccTalk tx %s", frame.hex(" "))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_timeout_s + self._wire_time_s(len(frame))
        # a long reply may still be arriving at the deadline: keep waiting while
        # bytes keep coming, never past the time the longest frame would take
        hard_limit = deadline + self._wire_time_s(2 * (len(frame) + 260))
        echo_pending = self._echo_seen is True
        while True:
            raw = self._reader.next_frame()
            if raw is None:
                tail = self._last_rx + self.inter_byte_timeout_s if self._reader.pending else 0.0
                await self._wait_rx(min(hard_limit, max(deadline, tail)), address)
                continue
            log.debug("ccTalk rx %s", raw.hex(" "))
            if raw == frame:
                echo_pending = False
                if self._echo_seen is None:
                    self._echo_seen = True
                    log.info("ccTalk bus on %s echoes requests", self.port)
                continue
            if echo_pending:
                raise ProtocolError(f"expected the echo of the request, got {raw.hex(' ')}")
            reply = decode(raw, self.checksum)
            if not self._is_our_reply(reply, address, reply_len):
                log.debug("ccTalk ignoring frame not meant for this request: %s", raw.hex(" "))
                continue
            if self._echo_seen is None and self.echo == "auto":
                self._echo_seen = False
                log.info("ccTalk bus on %s does not echo requests", self.port)
            return reply

    def _is_our_reply(self, reply: Frame, address: int, reply_len: ReplyLen) -> bool:
        if reply.dest != self.host_address:
            return False
        if reply.src is not None and reply.src != address:
            return False
        if reply.header != Header.ACK or reply_len is None:
            return True
        lengths = (reply_len,) if isinstance(reply_len, int) else reply_len
        return len(reply.data) in lengths

    async def _wait_rx(self, deadline: float, address: int) -> None:
        if self._broken:
            raise DeviceLost(f"ccTalk port {self.port} failed: {self._broken}")
        timeout = deadline - asyncio.get_running_loop().time()
        if timeout <= 0:
            raise DriverTimeout(f"no reply from ccTalk device {address} on {self.port}")
        self._rx_event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rx_event.wait(), timeout)

    def _wire_time_s(self, nbytes: int) -> float:
        return nbytes * 10 / self.baudrate

    # --- port plumbing --------------------------------------------------------

    def _ser(self) -> serial.Serial:
        if self._serial is None:
            raise DeviceLost(f"ccTalk port {self.port} is not open")
        return self._serial

    def _flush_input(self) -> None:
        ser = self._ser()
        try:
            ser.reset_input_buffer()
        except (OSError, termios.error, serial.SerialException) as exc:
            self._mark_broken(str(exc))
            raise DeviceLost(f"ccTalk port {self.port} failed: {exc}") from exc
        self._drain_fd()
        self._reader.clear()

    def _drain_fd(self) -> None:
        """Drop bytes the kernel already holds (reset_input_buffer may race them)."""
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            while os.read(self._fd, 4096):
                pass

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._mark_broken(str(exc))
            return
        if not data and not self._port_alive():
            self._mark_broken("the port hung up")
            return
        self._reader.feed(data)
        self._last_rx = asyncio.get_running_loop().time()
        self._rx_event.set()

    def _port_alive(self) -> bool:
        """An empty read is normal on a raw tty (VMIN 0, or input just flushed);
        on a hung-up port (adapter unplugged) every tty ioctl fails."""
        try:
            termios.tcgetattr(self._fd)
        except (OSError, termios.error):
            return False
        return True

    def _mark_broken(self, why: str) -> None:
        self._broken = why
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._fd)
        self._rx_event.set()
        log.error("ccTalk port %s failed: %s", self.port, why)

    async def _write_all(self, frame: bytes) -> None:
        """Write every byte in order, waiting for the port without blocking the loop."""
        view = memoryview(frame)
        give_up = time.monotonic() + 1.0 + self._wire_time_s(len(frame))
        while view:
            try:
                written = os.write(self._fd, view)
                view = view[written:]
            except (BlockingIOError, InterruptedError):
                if time.monotonic() > give_up:
                    raise DriverTimeout(f"ccTalk port {self.port} does not take data") from None
                await asyncio.sleep(0.001)
            except OSError as exc:
                raise DeviceLost(f"ccTalk port {self.port} write failed: {exc}") from exc
