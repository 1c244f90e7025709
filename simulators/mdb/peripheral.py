"""``SimMdbPeripheral``: what a simulated device implements to sit on the simulated bus.

The board (``simulators.mdb.board``) hands each peripheral the exact bytes a
VMC block has on the wire (address byte, data, CHK) and puts the peripheral's
answer on the wire: ``b"\\x00"`` a lone ACK, ``b"\\xff"`` a lone NAK, data
followed by CHK, or None for silence.  After a data answer the board tells the
peripheral whether the VMC acknowledged it (``host_acked``): one that was not
is sent again at the next POLL, as MDB 4.2 requires, so a lost ACK repeats
data and never loses it.

A device plugs in by subclassing ``SimMdbPeripheral`` with an ``address`` and
implementing ``handle(cmd, data)``: return ``b""`` for ACK, the payload for a
data answer (the base adds CHK), or raise ``NoAnswer`` for silence.  The base
does the checksum check, the repeat-until-ACK rule and the generic faults:

    silent        no answer at all
    bad_checksum  data answers with a wrong CHK (the VMC NAKs; data repeats)
    reset         one-shot: ``power_reset()`` now; JUST RESET at the next POLL

Faults last until ``clear``; subclasses add their own (``jam``, ``full``...)
through ``FAULTS`` and ``on_fault``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar

from drivers.mdb.block import ACK, POLL, checksum

log = logging.getLogger(__name__)


class NoAnswer(Exception):
    """Raised by ``handle`` when the device stays silent (unknown command, busy)."""


class SimMdbPeripheral(ABC):
    """A simulated MDB peripheral at one base address (08, 10, 30, 60)."""

    address: int
    name: str = "mdb"
    poll_cmd: int = POLL  # 2 for a cashless reader
    FAULTS: ClassVar[frozenset[str]] = frozenset({"silent", "bad_checksum", "reset"})

    def __init__(self) -> None:
        self.faults: set[str] = set()
        self.log: deque[tuple[str, str]] = deque(maxlen=500)
        self._unacked: bytes | None = None  # a data answer the VMC has not ACKed yet

    # --- what a device provides ---------------------------------------------------

    @abstractmethod
    def handle(self, cmd: int, data: bytes) -> bytes:
        """Answer command ``cmd`` (0-7) with ``data``: b"" = ACK, else the payload."""

    @abstractmethod
    def power_reset(self) -> None:
        """The device resets (a RESET command, a bus reset, a power glitch)."""

    def on_fault(self, fault: str) -> None:
        """Hook for faults with a physical side."""
        return None

    def on_clear(self) -> None:
        """Hook run when faults are cleared."""
        return None

    # --- faults ---------------------------------------------------------------------

    def inject(self, fault: str) -> None:
        """Misbehave until ``clear``; ``reset`` acts once; ValueError for an unknown fault."""
        if fault == "clear":
            self.faults.clear()
            self.on_clear()
            return
        if fault not in self.FAULTS:
            raise ValueError(f"{self.name}: unknown fault {fault!r}; known {sorted(self.FAULTS)}")
        self.log.append(("fault", fault))
        if fault == "reset":
            self.power_reset()
            self._unacked = None
        else:
            self.faults.add(fault)
        self.on_fault(fault)

    # --- the wire (called by the board) -------------------------------------------------

    def reply_to(self, block: bytes) -> bytes | None:
        """The wire answer to one VMC block, or None for silence."""
        self.log.append(("rx", block.hex(" ")))
        if len(block) < 2 or checksum(block[:-1]) != block[-1]:
            return None  # a corrupt block is not answered: the VMC repeats it
        if "silent" in self.faults:
            return None
        cmd, data = block[0] & 0x07, block[1:-1]
        if cmd == self.poll_cmd and self._unacked is not None:
            payload: bytes = self._unacked
        else:
            try:
                payload = self.handle(cmd, data)
            except NoAnswer:
                return None
        if not payload:
            self.log.append(("tx", "00*"))
            return bytes([ACK])
        self._unacked = payload
        chk = checksum(payload)
        if "bad_checksum" in self.faults:
            chk = (chk + 1) & 0xFF
        wire = payload + bytes([chk])
        self.log.append(("tx", wire.hex(" ") + "*"))
        return wire

    def host_acked(self, acked: bool) -> None:
        """The VMC's answer to our data: ACK ends it, NAK or silence repeats it at POLL."""
        if acked:
            self._unacked = None

    def bus_reset(self) -> None:
        """Every peripheral resets on a bus reset."""
        self._unacked = None
        self.power_reset()
