"""``QibixxLink``: the MDB bus through a Qibixx MDB Pi HAT (generic master mode).

The board speaks ASCII lines at 115200 8N1 on the Pi's UART (``/dev/serial0``,
with the serial console off).  It frames each block, computes and checks the
checksums, waits for the peripheral, acknowledges a data reply itself, and
answers with one line:

    host:  M,1                 board: m,ACK         (generic master on)
    host:  R,0B,               board: p,ACK         (peripheral ACK)
                                      p,NACK        (no answer, or a bad one)
                                      p,0B0B...     (data, CHK removed)
    host:  R,RESET             board: p,ACK         (bus reset done)

A line the host did not ask for (a board notice) is logged and skipped.
The board's own silence past ``line_timeout_s`` means the board is gone:
``DeviceLost``.  Not modelled: the board's cashless-master and sniffer modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import serial

from drivers.errors import DeviceLost, ProtocolError
from drivers.mdb.block import (
    MAX_BLOCK,
    REPLY_ACK,
    REPLY_NAK,
    REPLY_TIMEOUT,
    Reply,
    data_reply,
)
from drivers.mdb.link import AFTER_BUS_RESET_S, MdbLink

log = logging.getLogger(__name__)

MAX_LINE = 256


def request_line(addr_cmd: int, data: bytes = b"") -> bytes:
    """The board's text for one block: ``R,<addr|cmd>,<hex data>``."""
    if not 0 <= addr_cmd <= 0xFF or len(data) + 2 > MAX_BLOCK:
        raise ValueError(f"MDB block {addr_cmd:#x} with {len(data)} data bytes")
    return f"R,{addr_cmd:02X},{data.hex().upper()}\n".encode("ascii")


def parse_reply_line(line: str) -> Reply:
    """The Reply a board line ``p,...`` stands for; ProtocolError otherwise.

    ``p,NACK`` means the peripheral did not answer in time, answered NAK, or
    answered with a bad checksum (the board passes no corrupt data on): all
    read as silence here, and the device repeats its command or polls again.
    """
    if not line.startswith("p,"):
        raise ProtocolError(f"not an MDB reply line: {line!r}")
    body = line[2:].strip()
    if body == "ACK":
        return REPLY_ACK
    if body in ("NACK", "NAK"):
        return REPLY_TIMEOUT
    try:
        payload = bytes.fromhex(body)
    except ValueError as exc:
        raise ProtocolError(f"MDB reply line with bad hex: {line!r}") from exc
    try:
        return data_reply(payload)
    except ValueError as exc:
        raise ProtocolError(f"MDB reply line {line!r}: {exc}") from exc


class QibixxLink(MdbLink):
    """The Qibixx MDB Pi HAT on a serial port."""

    name = "qibixx"

    def __init__(self, port: str, *, baudrate: int = 115200,
                 line_timeout_s: float = 1.0) -> None:
        if not port:
            raise ValueError("the MDB board needs a serial port path")
        if line_timeout_s <= 0:
            raise ValueError("line_timeout_s must be > 0")
        self.port = port
        self.baudrate = baudrate
        self.line_timeout_s = line_timeout_s
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._buffer = bytearray()
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._broken: str | None = None

    async def start(self) -> None:
        """Open the port and switch the board to generic master (``M,1``).

        A port that cannot be opened, or a board that does not answer, is
        not fatal: every later transaction tries again (DeviceLost until then).
        """
        async with self._lock:
            await self._open()

    async def _open(self) -> None:
        if self._serial is not None and self._broken is None:
            return
        self._release()
        try:
            self._serial = serial.Serial(self.port, self.baudrate, bytesize=8, parity="N",
                                         stopbits=1, timeout=0, write_timeout=0)
        except (OSError, serial.SerialException) as exc:
            self._broken = f"cannot be opened: {exc}"
            log.error("MDB board port %s cannot be opened: %s", self.port, exc)
            return
        self._fd = self._serial.fileno()
        self._broken = None
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        try:
            answer = await self._exchange(b"M,1\n", ("m,",))
        except DeviceLost as exc:
            log.error("MDB board on %s does not answer M,1: %s", self.port, exc)
            self._broken = str(exc)
            return
        log.info("MDB board on %s: generic master (%s)", self.port, answer)

    async def close(self) -> None:
        async with self._lock:
            self._release()
            self._broken = "closed"

    def _release(self) -> None:
        ser, self._serial = self._serial, None
        if ser is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._fd)
        with contextlib.suppress(Exception):
            ser.close()
        self._fd = -1

    async def transact(self, addr_cmd: int, data: bytes = b"") -> Reply:
        line = request_line(addr_cmd, data)
        async with self._lock:
            await self._ready()
            answer = await self._exchange(line, ("p,",))
        try:
            return parse_reply_line(answer)
        except ProtocolError as exc:
            log.warning("MDB board on %s: %s", self.port, exc)
            return REPLY_NAK  # a garbled line: as if the block was not taken

    async def bus_reset(self) -> None:
        async with self._lock:
            await self._ready()
            await self._exchange(b"R,RESET\n", ("p,", "r,"), extra_s=0.4)
        await asyncio.sleep(AFTER_BUS_RESET_S)

    async def _ready(self) -> None:
        if self._broken == "closed":
            raise DeviceLost(f"MDB board port {self.port} is closed")
        if self._broken is not None:
            await self._open()
        if self._broken is not None:
            raise DeviceLost(f"MDB board on {self.port}: {self._broken}")

    async def _exchange(self, line: bytes, prefixes: tuple[str, ...],
                        extra_s: float = 0.0) -> str:
        """Write one line and return the first answer line with one of ``prefixes``."""
        while not self._lines.empty():
            log.debug("MDB board stale line dropped: %s", self._lines.get_nowait())
        self._write(line)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.line_timeout_s + extra_s
        while True:
            remaining = deadline - loop.time()
            if self._broken is not None:
                raise DeviceLost(f"MDB board on {self.port}: {self._broken}")
            if remaining <= 0:
                self._broken = "the board does not answer"
                raise DeviceLost(f"MDB board on {self.port} does not answer {line!r}")
            try:  # asyncio.timeout, not wait_for: a cancel is never swallowed
                async with asyncio.timeout(remaining):
                    answer = await self._lines.get()
            except TimeoutError:
                continue
            if answer.startswith(prefixes):
                return answer
            log.info("MDB board on %s says: %s", self.port, answer)

    def _write(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            self._broken = f"write failed: {exc}"
            raise DeviceLost(f"MDB board port {self.port} write failed: {exc}") from exc
        if written != len(line):  # 115200 baud lines of < 80 bytes: the tty takes them whole
            self._broken = "short write"
            raise DeviceLost(f"MDB board port {self.port} took {written}/{len(line)} bytes")

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._broken = f"read failed: {exc}"
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            self._lines.put_nowait("")  # wake a waiting exchange
            return
        self._buffer.extend(chunk)
        while (end := self._buffer.find(b"\n")) >= 0:
            raw = bytes(self._buffer[:end]).strip(b"\r ")
            del self._buffer[:end + 1]
            if raw:
                self._lines.put_nowait(raw.decode("ascii", "replace"))
        if len(self._buffer) > MAX_LINE:
            log.warning("MDB board on %s: line too long, dropped", self.port)
            self._buffer.clear()
