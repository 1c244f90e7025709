"""MDB wire rules: addresses, checksums, block sizes and what a transaction returns.

Every exchange on the bus is one block from the VMC (the address byte, with
the mode bit set, carrying the command in its low three bits, then data, then
CHK) and one answer from the peripheral: ACK, NAK, silence, or data ending
with CHK (mode bit on that last byte).  ``Reply`` is that answer, as every
link reports it, already checked: a data reply carries its payload without
CHK.  Blocks are at most 36 bytes including CHK (MDB 4.2 §2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

ACK = 0x00
NAK = 0xFF
RET = 0xAA  # VMC only: "send that again"
MAX_BLOCK = 36  # bytes, CHK included

# peripheral base addresses (bits 7..3); the command is in bits 2..0
CHANGER = 0x08
CASHLESS = 0x10
CASHLESS_2 = 0x60
BILL_VALIDATOR = 0x30

RESET, SETUP, POLL = 0, 1, 3  # the command offsets every peripheral shares


def checksum(data: bytes) -> int:
    """CHK: the sum of the other bytes of the block, modulo 256."""
    return sum(data) & 0xFF


def address_of(addr_cmd: int) -> int:
    """The peripheral address of an address byte (its bits 7..3)."""
    return addr_cmd & 0xF8


def vmc_block(addr_cmd: int, data: bytes = b"") -> bytes:
    """The bytes the VMC sends: address byte, data, CHK (the mode bit goes on the first).

    Raises ValueError for an address byte out of range or a block over 36 bytes.
    """
    if not 0 <= addr_cmd <= 0xFF:
        raise ValueError(f"MDB address byte out of range: {addr_cmd}")
    body = bytes([addr_cmd]) + data
    if len(body) + 1 > MAX_BLOCK:
        raise ValueError(f"MDB block of {len(body) + 1} bytes is over {MAX_BLOCK}")
    return body + bytes([checksum(body)])


def peripheral_block(data: bytes) -> bytes:
    """The bytes a peripheral sends for a data reply: data then CHK (mode bit on CHK)."""
    if not data or len(data) + 1 > MAX_BLOCK:
        raise ValueError(f"MDB data reply of {len(data)} bytes (1..{MAX_BLOCK - 1})")
    return data + bytes([checksum(data)])


def split_peripheral_block(raw: bytes) -> bytes:
    """The payload of a peripheral's data block, its CHK checked.

    Raises ValueError on a bad checksum or a block of the wrong size.
    """
    if not 2 <= len(raw) <= MAX_BLOCK:
        raise ValueError(f"MDB reply of {len(raw)} bytes")
    if checksum(raw[:-1]) != raw[-1]:
        raise ValueError(f"MDB reply {raw.hex(' ')}: bad checksum")
    return raw[:-1]


class ReplyKind(enum.StrEnum):
    """What came back for one block."""

    ACK = "ack"  # the peripheral took the block (and has nothing to say)
    NAK = "nak"  # the peripheral refused it, or its answer was corrupt
    TIMEOUT = "timeout"  # silence within the response time
    DATA = "data"  # a data block, CHK checked and removed


@dataclass(frozen=True, slots=True)
class Reply:
    """One peripheral's answer to one block; ``data`` is set only for DATA."""

    kind: ReplyKind
    data: bytes = b""

    @property
    def answered(self) -> bool:
        """Whether the peripheral is alive (ACK, NAK or data; not silence)."""
        return self.kind is not ReplyKind.TIMEOUT

    def __str__(self) -> str:
        return self.data.hex(" ") if self.kind is ReplyKind.DATA else self.kind.value


REPLY_ACK = Reply(ReplyKind.ACK)
REPLY_NAK = Reply(ReplyKind.NAK)
REPLY_TIMEOUT = Reply(ReplyKind.TIMEOUT)


def data_reply(data: bytes) -> Reply:
    """A DATA reply; ValueError for an empty or oversized payload."""
    if not data or len(data) + 1 > MAX_BLOCK:
        raise ValueError(f"MDB data reply of {len(data)} bytes")
    return Reply(ReplyKind.DATA, bytes(data))
