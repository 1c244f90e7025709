"""ccTalk framing: checksums, encoding, decoding and frame extraction.

Pure functions and one small stream buffer, no I/O.  A frame is
``[dest][len][src][header][data * len][checksum]``.  In simple-checksum mode
the last byte makes the sum of all bytes 0 mod 256.  In CRC16 mode the
CRC-CCITT (poly 0x1021, init 0) covers dest, len, header and data; its low byte
takes the place of the source address and its high byte is the last byte, so a
CRC16 frame carries no source address.

Not modelled: encryption (the DES/BNV ccTalk variants), multi-drop address
polling, and the 8-bit CRC some vendors ship.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from drivers.errors import ProtocolError

ChecksumMode = Literal["simple", "crc16"]

HOST_ADDRESS = 1
BROADCAST_ADDRESS = 0
MAX_DATA_LEN = 255
MIN_FRAME_LEN = 5


class Header(enum.IntEnum):
    """The ccTalk headers this project sends or answers."""

    ACK = 0  # also the header of every reply that carries data
    RESET_DEVICE = 1
    COMMS_REVISION = 4
    NAK = 5
    BUSY = 6
    REQUEST_CIPHER_KEY = 160
    PUMP_RNG = 161
    TEST_HOPPER = 163
    ENABLE_HOPPER = 164
    HOPPER_STATUS = 166
    DISPENSE_COINS = 167
    DISPENSE_COUNT = 168
    HOPPER_COIN = 171
    EMERGENCY_STOP = 172
    COIN_ID = 184
    BUILD_CODE = 192
    PAYOUT_LEVEL_STATUS = 217
    REQUEST_MASTER_INHIBIT = 227
    MODIFY_MASTER_INHIBIT = 228
    READ_BUFFERED_CREDIT = 229
    REQUEST_INHIBIT_STATUS = 230
    MODIFY_INHIBIT_STATUS = 231
    LEVEL_SENSORS = 236
    SOFTWARE_REVISION = 241
    SERIAL_NUMBER = 242
    PRODUCT_CODE = 244
    EQUIPMENT_CATEGORY = 245
    MANUFACTURER = 246
    VARIABLE_SET = 247
    SIMPLE_POLL = 254


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded, verified frame.  ``src`` is None in CRC16 mode."""

    dest: int
    src: int | None
    header: int
    data: bytes


def simple_checksum(body: bytes) -> int:
    """The byte that makes the frame sum to 0 mod 256."""
    return (-sum(body)) & 0xFF


def crc16_ccitt(data: bytes, crc: int = 0) -> int:
    """CRC-CCITT, poly 0x1021, init 0, no reflection (the ccTalk CRC16)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _check_fields(dest: int, src: int, header: int, data: bytes) -> None:
    for name, value in (("dest", dest), ("src", src), ("header", header)):
        if not 0 <= value <= 0xFF:
            raise ValueError(f"{name} {value} is not a byte")
    if len(data) > MAX_DATA_LEN:
        raise ValueError(f"{len(data)} data bytes; at most {MAX_DATA_LEN} fit in a frame")


def encode(dest: int, src: int, header: int, data: bytes = b"",
           checksum: ChecksumMode = "simple") -> bytes:
    """Build one frame.  In CRC16 mode ``src`` is replaced by the CRC low byte."""
    _check_fields(dest, src, header, data)
    if checksum == "crc16":
        crc = crc16_ccitt(bytes((dest, len(data), header)) + data)
        return bytes((dest, len(data), crc & 0xFF, header)) + data + bytes((crc >> 8,))
    body = bytes((dest, len(data), src, header)) + data
    return body + bytes((simple_checksum(body),))


def decode(raw: bytes, checksum: ChecksumMode = "simple") -> Frame:
    """Verify and decode one complete frame; ProtocolError if it is not one."""
    if len(raw) < MIN_FRAME_LEN:
        raise ProtocolError(f"frame too short: {raw.hex(' ')}")
    if len(raw) != raw[1] + MIN_FRAME_LEN:
        raise ProtocolError(f"length byte {raw[1]} does not match {len(raw)} bytes: {raw.hex(' ')}")
    data = bytes(raw[4:-1])
    if checksum == "crc16":
        crc = crc16_ccitt(bytes((raw[0], raw[1], raw[3])) + data)
        if raw[2] != crc & 0xFF or raw[-1] != crc >> 8:
            raise ProtocolError(f"bad CRC16: {raw.hex(' ')}")
        return Frame(dest=raw[0], src=None, header=raw[3], data=data)
    if sum(raw) & 0xFF:
        raise ProtocolError(f"bad checksum: {raw.hex(' ')}")
    return Frame(dest=raw[0], src=raw[2], header=raw[3], data=data)


class FrameReader:
    """Cuts a byte stream into length-delimited frames (not yet verified).

    It trusts the length byte, as a real receiver does; a receiver that sees
    garbage resynchronises on a gap in the stream, so callers ``clear()`` the
    reader after an inter-byte timeout or before a new request.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buf)

    def missing(self) -> int:
        """How many more bytes the frame at the head of the buffer needs."""
        if len(self._buf) < 2:
            return MIN_FRAME_LEN - len(self._buf)
        return max(0, self._buf[1] + MIN_FRAME_LEN - len(self._buf))

    def next_frame(self) -> bytes | None:
        """The next whole frame's bytes, or None while incomplete."""
        if len(self._buf) < 2:
            return None
        size = self._buf[1] + MIN_FRAME_LEN
        if len(self._buf) < size:
            return None
        raw = bytes(self._buf[:size])
        del self._buf[:size]
        return raw
