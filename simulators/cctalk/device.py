"""The common part of every simulated ccTalk device.

A ``SimCctalkDevice`` answers decoded request frames the way a physical device
on the bus would: it keeps its registers in the saved world (so a restarted
process finds them as a real device would keep them), logs every frame and
physical event with a monotonic timestamp, and misbehaves on request through
``inject(fault)`` until ``clear()``.

Every device answers simple poll (254) and equipment category (245), and
the identity requests its model implements (``identity_replies``).

Generic faults: ``silent`` (no replies), ``bad_checksum`` (replies with a
corrupt last byte), ``slow`` (replies after ``slow_delay_s``), ``nak``,
``busy``, ``garbage`` (replies with the bytes in ``garbage`` or random bytes),
and ``reset`` (a one-shot power reset: registers back to power-up values).
``lose_requests`` / ``lose_replies`` / ``corrupt_replies`` (header -> count)
drop or corrupt single frames on the wire, to test what the host does when a
request or its reply is lost or damaged.

Not modelled: the bus timing of single bytes, collisions between devices,
the 630 ms power-up silence after a reset.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, ClassVar

from drivers.cctalk.frame import ChecksumMode, Frame, Header, encode
from simulators.world import SimWorld

log = logging.getLogger(__name__)

Reply = tuple[int, bytes]
LogEntry = tuple[float, str, str]
LOG_ENTRIES = 5000  # per device or bus; older entries drop off


def identity_replies(manufacturer: str, product: str, software: str,
                     comms: tuple[int, int, int] | None = None,
                     build: str | None = None) -> dict[int, bytes]:
    """A model's answers to 246, 244, 241 and, when it has them, 4 and 192."""
    found: dict[int, bytes] = {Header.MANUFACTURER: manufacturer.encode("ascii"),
                               Header.PRODUCT_CODE: product.encode("ascii"),
                               Header.SOFTWARE_REVISION: software.encode("ascii")}
    if comms is not None:
        found[Header.COMMS_REVISION] = bytes(comms)
    if build is not None:
        found[Header.BUILD_CODE] = build.encode("ascii")
    return found


class BoundedLog(list[LogEntry]):
    """A log that keeps at least its last ``LOG_ENTRIES`` entries and at most twice
    that (a simulator runs for months); indexing and slicing work as on a list."""

    def append(self, entry: LogEntry) -> None:
        super().append(entry)
        if len(self) > 2 * LOG_ENTRIES:
            del self[:LOG_ENTRIES]


class SimCctalkDevice:
    """Base class: fault handling, logging, persisted registers."""

    category: ClassVar[str] = "Unknown"
    FAULTS: ClassVar[frozenset[str]] = frozenset(
        {"silent", "bad_checksum", "slow", "nak", "busy", "garbage", "reset"})

    def __init__(self, world: SimWorld, *, address: int, name: str,
                 reply_delay_s: float = 0.002, slow_delay_s: float = 0.5) -> None:
        if not 2 <= address <= 255:
            raise ValueError(f"device address {address} must be 2..255")
        self.world = world
        self.address = address
        self.name = name
        self.reply_delay_s = reply_delay_s
        self.slow_delay_s = slow_delay_s
        self.faults: set[str] = set()
        self.garbage: bytes | None = None
        self.lose_requests: dict[int, int] = {}  # header -> requests lost on the wire
        self.lose_replies: dict[int, int] = {}  # header -> replies lost on the wire
        self.corrupt_replies: dict[int, int] = {}  # header -> replies with a bad checksum
        self.log = BoundedLog()
        self.identity_replies: dict[int, bytes] = {}  # 246, 244, 241, 4, 192: the model's
        self._rng = random.Random(address)
        self.registers: dict[str, Any] = world.device(f"cctalk:{name}")
        if not self.registers:
            self.registers.update(self.power_up_registers())
            self.save()

    # --- to override ------------------------------------------------------------

    def power_up_registers(self) -> dict[str, Any]:
        """The registers of a device fresh from the factory or a reset."""
        return {}

    def answer(self, header: int, data: bytes) -> Reply | None:
        """The reply to one request; None for an unknown header (answered NAK)."""
        if header == Header.SIMPLE_POLL:
            return Header.ACK, b""
        if header == Header.EQUIPMENT_CATEGORY and not data:
            return Header.ACK, self.category.encode("ascii")
        if header in self.identity_replies and not data:
            return Header.ACK, self.identity_replies[header]
        return None

    def on_refused(self, header: int, data: bytes) -> None:
        """A request answered NAK or BUSY by fault injection (hopper counters move)."""

    async def start(self) -> None:
        """Resume whatever the physical device was doing (e.g. a payout)."""

    async def close(self) -> None:
        """Stop background activity."""

    # --- faults -----------------------------------------------------------------

    def inject(self, fault: str) -> None:
        """Misbehave until ``clear()``; ``reset`` acts once; ``clear`` clears."""
        if fault == "clear":
            self.clear()
            return
        if fault not in self.FAULTS:
            raise ValueError(f"{self.name}: unknown fault {fault!r}; known {sorted(self.FAULTS)}")
        self.record("fault", fault)
        if fault == "reset":
            self.power_reset()
            return
        self.faults.add(fault)
        self.on_fault(fault)

    def restore_faults(self, faults: list[str]) -> None:
        """Faults that were standing when the machine stopped: back without
        their one-time physical side (that is already in the registers)."""
        for fault in faults:
            if fault in self.FAULTS and fault != "reset":
                self.record("fault", f"{fault} (still there)")
                self.faults.add(fault)

    def clear(self) -> None:
        self.record("fault", "clear")
        self.faults.clear()
        self.on_clear()

    def on_fault(self, fault: str) -> None:
        """Hook for faults with a physical side (a jammed coin)."""

    def on_clear(self) -> None:
        """Hook run when faults are cleared."""

    def power_reset(self) -> None:
        """The device resets: registers back to power-up values."""
        with self.world.lock:
            self.registers.clear()
            self.registers.update(self.power_up_registers())
            self.save()
        self.record("event", "reset")

    # --- the bus side -----------------------------------------------------------

    def reply_for(self, frame: Frame, raw: bytes,
                  checksum: ChecksumMode) -> tuple[float, bytes] | None:
        """(delay, reply bytes) for a frame addressed to this device, or None."""
        if self._lose(self.lose_requests, frame.header):
            self.record("lost", raw.hex(" "))
            return None
        self.record("rx", raw.hex(" "))
        if "silent" in self.faults:
            return None
        reply = self._reply(frame)
        if self._lose(self.lose_replies, frame.header):
            self.record("lost", f"reply to header {frame.header}")
            return None
        host = frame.src if frame.src is not None else 1
        out = encode(host, self.address, reply[0], reply[1], checksum)
        if "garbage" in self.faults:
            out = self.garbage if self.garbage is not None else self._random_bytes()
        if "bad_checksum" in self.faults or self._lose(self.corrupt_replies, frame.header):
            out = out[:-1] + bytes(((out[-1] + 1) & 0xFF,))
        delay = self.slow_delay_s if "slow" in self.faults else self.reply_delay_s
        self.record("tx", out.hex(" "))
        return delay, out

    def _reply(self, frame: Frame) -> Reply:
        if "nak" in self.faults or "busy" in self.faults:
            self.on_refused(frame.header, frame.data)
            return (Header.NAK if "nak" in self.faults else Header.BUSY), b""
        reply = self.answer(frame.header, frame.data)
        return reply if reply is not None else (Header.NAK, b"")

    @staticmethod
    def _lose(losses: dict[int, int], header: int) -> bool:
        if losses.get(header, 0) <= 0:
            return False
        losses[header] -= 1
        return True

    def _random_bytes(self) -> bytes:
        return bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(1, 20)))

    # --- helpers ---------------------------------------------------------------

    def record(self, direction: str, what: str) -> None:
        self.log.append((time.monotonic(), direction, what))
        log.debug("%s %s %s", self.name, direction, what)

    def save(self) -> None:
        self.world.save()

    def entries(self, direction: str) -> list[str]:
        """The logged texts of one direction ("rx", "tx", "event", "fault")."""
        return [what for _, d, what in self.log if d == direction]
