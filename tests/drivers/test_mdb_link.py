"""MDB wire rules, the Qibixx text link against the simulated board, and raw 9-bit coding."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from drivers.errors import DeviceLost
from drivers.mdb.block import (
    REPLY_ACK,
    REPLY_TIMEOUT,
    ReplyKind,
    checksum,
    peripheral_block,
    split_peripheral_block,
    vmc_block,
)
from drivers.mdb.qibixx import QibixxLink, parse_reply_line, request_line
from drivers.mdb.raw9 import ReplyReader, decode_parmrk, encode_parmrk, encode_tx
from simulators.mdb.board import SimQibixxBoard
from simulators.mdb.peripheral import NoAnswer, SimMdbPeripheral


class EchoDevice(SimMdbPeripheral):
    """A tiny peripheral at 0x40: POLL answers its queue, command 2 echoes, 5 is silent."""

    address = 0x40
    name = "echo"

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[bytes] = []
        self.resets = 0

    def handle(self, cmd: int, data: bytes) -> bytes:
        if cmd == 3:
            return self.queue.pop(0) if self.queue else b""
        if cmd == 2:
            return data
        if cmd == 5:
            raise NoAnswer
        return b""

    def power_reset(self) -> None:
        self.resets += 1


def test_checksum_matches_the_spec_vector() -> None:
    assert checksum(bytes.fromhex("02 00 01 05 02 00 07 01 02 05 14 FF")) == 0x2C
    assert vmc_block(0x13, bytes.fromhex("00 00 3C 00 01"))[-1] == 0x50  # kaiser.cx


def test_block_size_and_checksum_rules() -> None:
    assert vmc_block(0x0B) == bytes([0x0B, 0x0B])
    with pytest.raises(ValueError, match="over 36"):
        vmc_block(0x0B, bytes(35))
    assert len(vmc_block(0x0B, bytes(34))) == 36
    with pytest.raises(ValueError):
        vmc_block(0x100)
    assert peripheral_block(bytes.fromhex("52 09")) == bytes.fromhex("52 09 5B")
    assert split_peripheral_block(bytes.fromhex("52 09 5B")) == bytes.fromhex("52 09")
    with pytest.raises(ValueError, match="checksum"):
        split_peripheral_block(bytes.fromhex("52 09 5C"))
    with pytest.raises(ValueError):
        peripheral_block(b"")


def test_qibixx_text() -> None:
    assert request_line(0x0C, bytes.fromhex("001FFFFF")) == b"R,0C,001FFFFF\n"
    assert request_line(0x0B) == b"R,0B,\n"
    assert parse_reply_line("p,ACK") == REPLY_ACK
    assert parse_reply_line("p,NACK") == REPLY_TIMEOUT
    reply = parse_reply_line("p,5209")
    assert (reply.kind, reply.data) == (ReplyKind.DATA, bytes.fromhex("5209"))
    for bad in ("x,1", "p,5G", "p,"):
        with pytest.raises(Exception, match="MDB"):
            parse_reply_line(bad)


def test_raw9_encoding_marks_the_address_byte_only() -> None:
    assert encode_tx(0x0D, bytes([0x21])) == [(True, b"\x0d"), (False, b"\x21\x2e")]


def test_raw9_parmrk_decoding_matches_the_field_example() -> None:
    # 73 FF 04 + 76* reads 73 FF FF 04 FF 00 76 with INPCK|PARMRK
    stream = bytes.fromhex("73 FF FF 04 FF 00 76")
    pairs, tail = decode_parmrk(stream)
    assert pairs == [(0x73, False), (0xFF, False), (0x04, False), (0x76, True)] and tail == b""
    assert encode_parmrk(pairs) == stream
    # an escape cut between two reads is kept for the next one
    pairs, tail = decode_parmrk(stream[:5])
    assert tail == b"\xff" and len(pairs) == 3


def test_raw9_reply_reader_cuts_replies_and_checks_chk() -> None:
    reader = ReplyReader()
    data = encode_parmrk([(0x52, False), (0x09, False), (0x5B, True)])
    replies = reader.feed(data[:2]) + reader.feed(data[2:])
    assert [(r.kind, r.data) for r in replies] == [(ReplyKind.DATA, b"\x52\x09")]
    assert [r.kind for r in reader.feed(encode_parmrk([(0x00, True)]))] == [ReplyKind.ACK]
    assert [r.kind for r in reader.feed(encode_parmrk([(0xFF, True)]))] == [ReplyKind.NAK]
    bad = encode_parmrk([(0x52, False), (0x09, False), (0x5C, True)])
    assert [r.kind for r in reader.feed(bad)] == [ReplyKind.NAK]


@pytest_asyncio.fixture
async def board() -> AsyncIterator[SimQibixxBoard]:
    sim = SimQibixxBoard()
    sim.add(EchoDevice())
    await sim.start()
    yield sim
    await sim.close()


@pytest_asyncio.fixture
async def link(board: SimQibixxBoard) -> AsyncIterator[QibixxLink]:
    qibixx = QibixxLink(board.port, line_timeout_s=0.5)
    await qibixx.start()
    yield qibixx
    await qibixx.close()


@pytest.mark.asyncio
async def test_qibixx_link_against_the_simulated_board(
        board: SimQibixxBoard, link: QibixxLink) -> None:
    device = board.peripheral_named("echo")
    assert isinstance(device, EchoDevice)
    assert await link.transact(0x43) == REPLY_ACK
    echoed = await link.transact(0x42, b"\x01\x02")
    assert echoed.data == b"\x01\x02"
    assert await link.transact(0x45) == REPLY_TIMEOUT  # the device is silent
    assert await link.transact(0x0B) == REPLY_TIMEOUT  # nobody at 08
    assert ("vmc", bytes.fromhex("42 01 02 45")) in board.wire_log
    await link.bus_reset()
    assert device.resets == 1


@pytest.mark.asyncio
async def test_unacked_data_is_repeated_never_lost(board: SimQibixxBoard,
                                                   link: QibixxLink) -> None:
    device = board.peripheral_named("echo")
    assert isinstance(device, EchoDevice)
    device.queue.append(b"\x52\x09")
    device.inject("bad_checksum")
    assert (await link.transact(0x43)).kind is ReplyKind.TIMEOUT  # board NAKed it
    device.inject("clear")
    assert (await link.transact(0x43)).data == b"\x52\x09"  # repeated at the next POLL
    assert await link.transact(0x43) == REPLY_ACK  # and only once
    with pytest.raises(ValueError, match="unknown fault"):
        device.inject("melt")


@pytest.mark.asyncio
async def test_a_missing_board_is_device_lost_not_a_crash(tmp_path: object) -> None:
    link = QibixxLink("/dev/does-not-exist-mdb", line_timeout_s=0.05)
    await link.start()
    with pytest.raises(DeviceLost):
        await link.transact(0x0B)
    await link.close()
