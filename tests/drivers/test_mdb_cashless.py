"""The MDB cashless reader: MDB.md §4's byte table as golden tests, through the real
Qibixx link and the simulated board, and the reader's traps (chains, out of
sequence, a lost approval, a reset before SUCCESS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from drivers.mdb import cashless_proto as p
from drivers.mdb.cashless import CardSession, MdbCashlessReader
from drivers.mdb.qibixx import QibixxLink
from simulators.mdb.board import SimQibixxBoard
from simulators.mdb.reader import SimCashlessReader
from simulators.world import SimWorld

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(20)]


async def until(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


class Rig:
    def __init__(self, board: SimQibixxBoard, sim: SimCashlessReader,
                 reader: MdbCashlessReader) -> None:
        self.board, self.sim, self.reader = board, sim, reader
        self.sessions: list[CardSession | None] = []
        reader.on_session = self.sessions.append

    def wire(self) -> list[str]:
        """The bus bytes since the last call, POLLs answered by a lone ACK left out."""
        out: list[str] = []
        log = list(self.board.wire_log)
        self.board.wire_log.clear()
        for i, (who, raw) in enumerate(log):
            if who == "vmc" and raw == bytes([0x12, 0x12]) and i + 1 < len(log) \
                    and log[i + 1][1] == b"\x00":
                continue
            if who == "dev" and raw == b"\x00" and i > 0 and log[i - 1][1] == b"\x12\x12":
                continue
            if who == "vmc" and raw == b"\x00":  # the board's ACK of data
                continue
            out.append(raw.hex(" ").upper())
        return out


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    world = SimWorld.load_or_create(tmp_path / "w.json", coins=[], slots=[])
    board = SimQibixxBoard()
    sim = SimCashlessReader(world)
    board.add(sim)
    await board.start()
    link = QibixxLink(board.port)
    await link.start()
    reader = MdbCashlessReader(link, poll_interval_s=0.01, vend_timeout_s=0.3,
                               reset_retry_s=0.2)
    r = Rig(board, sim, reader)
    await reader.start()
    assert await reader.wait_ready(3.0)
    yield r
    await reader.close()
    await link.close()
    await board.close()


def without_ack_polls(lines: list[str]) -> list[str]:
    return [x for x in lines if x != "12 12"]


async def test_setup_bytes_are_the_tables(rig: Rig) -> None:
    await rig.reader.close()
    rig.board.wire_log.clear()
    rig.sim.power_reset()
    await rig.reader.start()
    assert await rig.reader.wait_ready(3.0)
    wire = rig.wire()
    assert wire[:4] == ["10 10", "00", "12 12", "00 00"]  # RESET -> ACK, POLL -> JUST RESET
    assert wire[4:6] == ["11 00 03 00 00 00 14", "01 03 19 78 01 02 1E 09 BF"]
    assert wire[6:8] == ["11 01 FF FF 00 00 10", "00"]
    assert wire[8].startswith("17 00 52 50 56")  # VMC ID, then the reader's 09 identity
    assert wire[9].startswith("09 53 49 4D")
    assert wire[10:12] == ["14 01 15", "00"]
    assert rig.reader.config is not None and rig.reader.config.level == 3
    assert rig.reader.identity.manufacturer == "SIM"


async def test_a_card_sale_is_the_tables_bytes(rig: Rig) -> None:
    rig.wire()
    rig.sim.present_card(500)
    await until(lambda: rig.reader.session is not None)
    assert rig.reader.session == CardSession(500)
    assert "03 01 F4 F8" in rig.wire()
    assert await rig.reader.request_vend(150, 12) == 150
    wire = rig.wire()
    assert wire[:2] == ["13 00 00 96 00 0C B5", "00"]
    assert "05 00 96 9B" in wire
    assert await rig.reader.vend_succeeded(12)
    assert rig.wire()[:2] == ["13 02 00 0C 21", "00"]
    await rig.reader.end_session()
    wire = rig.wire()
    assert wire[:2] == ["13 04 17", "00"] and "07 07" in wire
    assert rig.reader.session is None and rig.sessions == [CardSession(500), None]
    assert rig.sim.card_state() == {"present": False, "charged": [150]}


async def test_failure_releases_the_approval(rig: Rig) -> None:
    rig.sim.present_card(500)
    await until(lambda: rig.reader.session is not None)
    assert await rig.reader.request_vend(200, 1) == 200
    rig.wire()
    assert await rig.reader.vend_failed(1)
    assert rig.wire()[:2] == ["13 03 16", "00"]
    assert rig.sim.card_state()["charged"] == []


async def test_denied_and_no_session(rig: Rig) -> None:
    assert await rig.reader.request_vend(100, 1) is None  # no card: nothing asked
    rig.sim.present_card(50)
    await until(lambda: rig.reader.session is not None)
    assert await rig.reader.request_vend(100, 1) is None  # funds too low: 06
    rig.sim.inject("deny")
    assert await rig.reader.request_vend(20, 1) is None
    assert rig.reader.reader_state == "session"
    assert rig.sim.card_state()["charged"] == []


async def test_out_of_sequence_success_means_the_vend_was_lost(rig: Rig) -> None:
    rig.sim.present_card(500)
    await until(lambda: rig.reader.session is not None)
    assert await rig.reader.request_vend(100, 1) == 100
    rig.sim.inject("reset")  # the reader resets before SUCCESS: it counts it as paid
    assert rig.sim.card_state()["charged"] == [100]
    assert not await rig.reader.vend_failed(1)
    assert await rig.reader.wait_ready(3.0)


async def test_a_lost_approval_is_cancelled_and_released(rig: Rig) -> None:
    rig.sim.present_card(500)
    await until(lambda: rig.reader.session is not None)
    handle = rig.sim.handle

    def approval_lost_on_the_wire(cmd: int, data: bytes) -> bytes:
        answer = handle(cmd, data)
        if cmd == 3 and data[:1] == b"\x00":
            rig.sim.reg["queue"].clear()  # the reader approved; the VMC never hears it
        return answer

    rig.sim.handle = approval_lost_on_the_wire  # type: ignore[method-assign]
    assert await rig.reader.request_vend(100, 1) is None  # timed out, then CANCEL
    rig.sim.handle = handle  # type: ignore[method-assign]
    wire = rig.wire()
    assert "13 01 14" in wire and "13 03 16" in wire  # CANCEL, then FAILURE releases it
    assert rig.sim.reg["state"] == "session"
    rig.sim.power_reset()  # a later reset charges nothing: the approval was released
    assert rig.sim.card_state()["charged"] == []


async def test_begin_session_repeated_is_one_session_and_malfunction_is_kept(
        rig: Rig) -> None:
    rig.sim.present_card(500)
    rig.sim.present_card(500)  # some readers repeat BEGIN SESSION on every POLL
    await until(lambda: rig.reader.session is not None)
    await asyncio.sleep(0.05)
    assert rig.sessions == [CardSession(500)]
    rig.sim.reg["queue"].append("0ac1")  # refund failed, credit lost
    await until(lambda: rig.reader.last_malfunction == 0xC1)
    assert rig.reader.state_json()["lastMalfunction"] == 0xC1


async def test_a_cancel_request_from_the_reader_ends_the_session(rig: Rig) -> None:
    rig.sim.present_card(500)
    await until(lambda: rig.reader.session is not None)
    rig.wire()
    rig.sim.reg["queue"].append("04")  # the reader's own session timer ran out
    await until(lambda: rig.reader.session is None)
    assert "13 04 17" in rig.wire() and rig.sim.card_state()["present"] is False


async def test_chains_are_handled_in_order() -> None:
    items, rest = p.parse_items(bytes.fromhex("060A0704"), level=3)
    assert [i.code for i in items] == [0x06, 0x0A, 0x04] and items[1].data == b"\x07"
    assert rest == b""
    items, rest = p.parse_items(bytes.fromhex("0301F4") + b"\x07", level=1)
    assert [i.code for i in items] == [0x03, 0x07] and items[0].word() == 500
    items, rest = p.parse_items(b"\x05\x00\x96\x99", level=1)
    assert rest == b"\x99"


async def test_reader_values_scale() -> None:
    cfg = p.parse_config(p.ReplyItem(1, bytes.fromhex("0319780502051E")[:6] + b"\x00"))
    assert cfg.scale == 5 and cfg.cents(30) == 150 and cfg.units(150) == 30
    with pytest.raises(ValueError):
        cfg.units(152)
