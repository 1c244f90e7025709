"""``Raw9Link``: 9-bit MDB straight on the Pi's PL011 UART, for a bench without a board.

The ninth (mode) bit rides on the parity bit.  Sending, the address byte goes
out with mark parity (parity bit 1) and the rest with space parity (0).
Receiving with space parity and ``INPCK | PARMRK``, the kernel marks every
byte whose parity bit was 1 as ``FF 00 xx``, and escapes a plain ``FF`` as
``FF FF``: ``decode_parmrk`` turns that stream back into (byte, mode) pairs
and ``ReplyReader`` into whole replies.  Use the PL011 (``ttyAMA0``), not the
mini UART, which has no parity.  Software timing on Linux can miss the 1 ms
inter-byte and 5 ms answer limits: the supported way is an interface board
(``QibixxLink``); this link is opt-in (``[mdb] interface = "raw9"``).

Not modelled: the line polarity of a bus reset through a given level shifter
(``break`` is held for 100 ms, unverified on every interface).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import termios
from collections.abc import Iterable

import serial

from drivers.errors import DeviceLost
from drivers.mdb.block import (
    ACK,
    MAX_BLOCK,
    REPLY_ACK,
    REPLY_NAK,
    REPLY_TIMEOUT,
    Reply,
    checksum,
    data_reply,
    vmc_block,
)
from drivers.mdb.link import AFTER_BUS_RESET_S, BUS_RESET_S, MdbLink

log = logging.getLogger(__name__)

CMSPAR = 0o10000000000  # "stick" parity: Python's termios does not name it
PARMRK_ESCAPE = 0xFF


def encode_tx(addr_cmd: int, data: bytes = b"") -> list[tuple[bool, bytes]]:
    """The VMC block as (mode bit, bytes) runs: the address byte marked, the rest not."""
    block = vmc_block(addr_cmd, data)
    return [(True, block[:1]), (False, block[1:])]


def decode_parmrk(stream: bytes) -> tuple[list[tuple[int, bool]], bytes]:
    """(byte, mode bit) pairs read from a PARMRK stream, and the undecoded tail.

    ``FF 00 xx`` is ``xx`` with its parity bit set (the mode bit under space
    parity), ``FF FF`` a data ``FF``; a tail that may be the start of an
    escape is returned for the next read.
    """
    out: list[tuple[int, bool]] = []
    i = 0
    while i < len(stream):
        b = stream[i]
        if b != PARMRK_ESCAPE:
            out.append((b, False))
            i += 1
            continue
        if i + 1 >= len(stream):
            break
        if stream[i + 1] == PARMRK_ESCAPE:
            out.append((PARMRK_ESCAPE, False))
            i += 2
            continue
        if i + 2 >= len(stream):
            break
        out.append((stream[i + 2], True))  # FF 00 xx (a framing error's FF 00 00 reads alike)
        i += 3
    return out, stream[i:]


def encode_parmrk(pairs: Iterable[tuple[int, bool]]) -> bytes:
    """What the kernel hands us for these (byte, mode) pairs (used by tests and sims)."""
    out = bytearray()
    for byte, mode in pairs:
        if mode:
            out += bytes([PARMRK_ESCAPE, 0, byte])
        elif byte == PARMRK_ESCAPE:
            out += bytes([PARMRK_ESCAPE, PARMRK_ESCAPE])
        else:
            out.append(byte)
    return bytes(out)


class ReplyReader:
    """Cuts a peripheral's (byte, mode) stream into replies.

    A lone byte with the mode bit is ACK or NAK; otherwise a reply ends at
    the first byte with the mode bit (its CHK).  A reply with a bad checksum,
    or too long, reads as NAK (the VMC then NAKs it and the peripheral repeats).
    """

    def __init__(self) -> None:
        self._pending: bytearray = bytearray()
        self._tail = b""

    def clear(self) -> None:
        self._pending.clear()
        self._tail = b""

    def feed(self, raw: bytes) -> list[Reply]:
        pairs, self._tail = decode_parmrk(self._tail + raw)
        replies: list[Reply] = []
        for byte, mode in pairs:
            self._pending.append(byte)
            if len(self._pending) > MAX_BLOCK:
                self._pending.clear()
                replies.append(REPLY_NAK)
                continue
            if mode:
                replies.append(self._finish())
        return replies

    def _finish(self) -> Reply:
        block = bytes(self._pending)
        self._pending.clear()
        if len(block) == 1:
            return REPLY_ACK if block[0] == ACK else REPLY_NAK
        if checksum(block[:-1]) != block[-1]:
            return REPLY_NAK
        return data_reply(block[:-1])


class Raw9Link(MdbLink):
    """MDB on a PL011 UART with stick parity (opt-in; the board is the supported way)."""

    name = "raw9"

    def __init__(self, port: str, *, answer_timeout_s: float = 0.02,
                 switch_gap_s: float = 0.0) -> None:
        if not port:
            raise ValueError("the raw9 MDB link needs a serial port path")
        if answer_timeout_s <= 0 or switch_gap_s < 0:
            raise ValueError("answer_timeout_s > 0 and switch_gap_s >= 0")
        self.port = port
        self.answer_timeout_s = answer_timeout_s  # 5 ms on the wire, plus Linux latency
        self.switch_gap_s = switch_gap_s
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._reader = ReplyReader()
        self._replies: asyncio.Queue[Reply] = asyncio.Queue()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        try:
            self._serial = serial.Serial(self.port, 9600, bytesize=8, parity="N",
                                         stopbits=1, timeout=0, write_timeout=0)
        except (OSError, serial.SerialException) as exc:
            log.error("MDB raw9 port %s cannot be opened: %s", self.port, exc)
            return
        self._fd = self._serial.fileno()
        self._set_parity(mark=False)
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)

    async def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._fd)
        with contextlib.suppress(Exception):
            ser.close()

    def _set_parity(self, *, mark: bool) -> None:
        """Stick parity: mark (1) or space (0); receive with INPCK|PARMRK, which
        pyserial clears, so they are set again on the descriptor itself."""
        attrs = termios.tcgetattr(self._fd)
        attrs[0] = (attrs[0] | termios.INPCK | termios.PARMRK) & ~(termios.IGNPAR
                                                                  | termios.ISTRIP)
        attrs[2] |= termios.PARENB | CMSPAR
        attrs[2] = attrs[2] | termios.PARODD if mark else attrs[2] & ~termios.PARODD
        termios.tcsetattr(self._fd, termios.TCSADRAIN, attrs)

    async def transact(self, addr_cmd: int, data: bytes = b"") -> Reply:
        async with self._lock:
            if self._serial is None:
                await self.start()
            if self._serial is None:
                raise DeviceLost(f"MDB raw9 port {self.port} is not open")
            self._reader.clear()
            while not self._replies.empty():
                self._replies.get_nowait()
            try:
                for mark, chunk in encode_tx(addr_cmd, data):
                    self._set_parity(mark=mark)
                    os.write(self._fd, chunk)
                    if self.switch_gap_s:
                        await asyncio.sleep(self.switch_gap_s)
                self._set_parity(mark=False)
            except (OSError, termios.error) as exc:
                await self.close()
                raise DeviceLost(f"MDB raw9 port {self.port} failed: {exc}") from exc
            try:
                reply = await asyncio.wait_for(self._replies.get(), self.answer_timeout_s)
            except TimeoutError:
                return REPLY_TIMEOUT
            if reply.data:
                os.write(self._fd, bytes([ACK]))  # data taken: the peripheral must not repeat it
            # a corrupt reply gets no ACK: silence is a NAK, and the peripheral repeats it
            return reply

    async def bus_reset(self) -> None:
        async with self._lock:
            if self._serial is None:
                raise DeviceLost(f"MDB raw9 port {self.port} is not open")
            self._serial.send_break(BUS_RESET_S)
        await asyncio.sleep(AFTER_BUS_RESET_S)

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        for reply in self._reader.feed(chunk):
            self._replies.put_nowait(reply)


