"""A simulated Qibixx MDB Pi HAT on a pseudo-terminal, with peripherals behind it.

``SimQibixxBoard`` opens a pty pair; the real ``QibixxLink`` opens its slave
path as it would ``/dev/serial0``.  The board reads the host's text lines and
answers as the HAT does (MDB.md §5):

    V              -> v,SIM-QIBIXX
    M,1 / M,0      -> m,ACK
    F,RESPTIMEOUT,n-> f,ACK
    R,RESET        -> every peripheral resets; p,ACK
    R,<aa>,<hex>   -> the block goes, with its CHK, to the peripheral at address
                      aa & F8: p,ACK, p,NACK (silence, NAK or a bad CHK), or
                      p,<hex> (the data, CHK removed; the board ACKs it on the bus)
    anything else  -> e,ERR

Peripherals plug in by address through ``add`` (any ``SimMdbPeripheral``).
``wire_log`` keeps the bus bytes both ways, for golden tests.  Not modelled:
the board's cashless-master and sniffer modes, bus timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections import deque

from drivers.mdb.block import ACK, NAK, address_of, checksum, vmc_block
from simulators.mdb.peripheral import SimMdbPeripheral

log = logging.getLogger(__name__)


class SimQibixxBoard:
    """The board's text front end and the bus of simulated peripherals behind it."""

    def __init__(self) -> None:
        self.peripherals: dict[int, SimMdbPeripheral] = {}
        self.wire_log: deque[tuple[str, bytes]] = deque(maxlen=2000)  # ("vmc"|"dev", bytes)
        self.port = ""
        self._master = -1
        self._slave = -1
        self._buffer = bytearray()

    def add(self, peripheral: SimMdbPeripheral) -> None:
        """Put a peripheral on the bus at its address (ValueError if taken or invalid)."""
        if peripheral.address & 0x07 or not 0 < peripheral.address <= 0xF8:
            raise ValueError(f"not an MDB base address: {peripheral.address:#x}")
        if peripheral.address in self.peripherals:
            raise ValueError(f"MDB address {peripheral.address:#04x} is taken")
        self.peripherals[peripheral.address] = peripheral

    def peripheral_named(self, name: str) -> SimMdbPeripheral:
        for peripheral in self.peripherals.values():
            if peripheral.name == name:
                return peripheral
        raise KeyError(f"no MDB device {name!r}")

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        asyncio.get_running_loop().add_reader(self._master, self._on_readable)
        log.info("simulated Qibixx MDB board on %s with %s", self.port,
                 [f"{a:02X}" for a in sorted(self.peripherals)])

    async def close(self) -> None:
        if self._master < 0:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._master)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1

    # --- text in, text out ------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._master, 4096)
        except OSError:
            return
        self._buffer.extend(chunk)
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end]).strip(b"\r ").decode("ascii", "replace")
            del self._buffer[:end + 1]
            if line:
                self._write(self.answer(line) + "\n")

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self._master, text.encode("ascii"))

    def answer(self, line: str) -> str:
        """The board's answer line to one host line."""
        parts = line.split(",")
        head = parts[0].upper()
        if head == "V":
            return "v,SIM-QIBIXX,1.0"
        if head == "M" and len(parts) == 2 and parts[1] in ("0", "1"):
            return "m,ACK"
        if head == "F" and len(parts) == 3 and parts[1].upper() == "RESPTIMEOUT":
            return "f,ACK"
        if head == "R" and len(parts) == 2 and parts[1].upper() == "RESET":
            for peripheral in self.peripherals.values():
                peripheral.bus_reset()
            return "p,ACK"
        if head == "R" and len(parts) == 3:
            try:
                addr_cmd = int(parts[1], 16)
                return self.send_block(vmc_block(addr_cmd, bytes.fromhex(parts[2])))
            except ValueError:
                return "e,ERR"
        return "e,ERR"

    def send_block(self, block: bytes) -> str:
        """Put one VMC block on the bus; the board's reply line for it."""
        self.wire_log.append(("vmc", block))
        peripheral = self.peripherals.get(address_of(block[0]))
        wire = peripheral.reply_to(block) if peripheral is not None else None
        if wire is None:
            return "p,NACK"
        self.wire_log.append(("dev", wire))
        if len(wire) == 1:
            return "p,ACK" if wire[0] == ACK else "p,NACK"
        assert peripheral is not None
        if checksum(wire[:-1]) != wire[-1]:
            self.wire_log.append(("vmc", bytes([NAK])))
            peripheral.host_acked(False)
            return "p,NACK"
        self.wire_log.append(("vmc", bytes([ACK])))
        peripheral.host_acked(True)
        return "p," + wire[:-1].hex().upper()
