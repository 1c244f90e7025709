"""MDB.md §3's bill validator bytes, byte for byte, against the simulated validator."""

from __future__ import annotations

from drivers.mdb.bill_bytes import BillItemKind, BillRoute, parse_poll, parse_setup, parse_stacker
from simulators.mdb.bills import SimMdbBillValidator
from simulators.mdb.board import SimQibixxBoard
from simulators.world import SimWorld


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def rig() -> tuple[SimQibixxBoard, SimMdbBillValidator]:
    world = SimWorld.load_or_create(None, coins=[5], slots=["A1"])
    validator = SimMdbBillValidator(world)
    board = SimQibixxBoard()
    board.add(validator)
    return board, validator


def exchange(board: SimQibixxBoard, vmc: str) -> bytes:
    before = len(board.wire_log)
    board.send_block(h(vmc))
    answers = [b for who, b in list(board.wire_log)[before:] if who == "dev"]
    return answers[0] if answers else b""


def test_the_bill_table_byte_for_byte() -> None:
    board, validator = rig()
    assert exchange(board, "30 30") == h("00")
    assert exchange(board, "33 33") == h("06 09 0F")  # after reset: JUST RESET, disabled
    assert exchange(board, "31 31") == h("01 19 78 00 64 02 01 90 00 00 FF 05 0A 14 32") + bytes(
        12) + h("DD")
    assert exchange(board, "34 00 0F 00 0F 52") == h("00")
    assert validator.insert(1000) == "escrow"
    assert exchange(board, "33 33") == h("91 91")  # 10 euro held in escrow
    assert exchange(board, "35 01 36") == h("00")
    assert exchange(board, "33 33") == h("81 81")  # stacked
    assert validator.insert(1000) == "escrow"
    assert exchange(board, "33 33") == h("91 91")
    assert exchange(board, "35 00 35") == h("00")
    assert exchange(board, "33 33") == h("A1 A1")  # returned
    assert validator.returned() == [1000] and validator.stacker_value() == 1000
    validator.world.device("bills")["stacker"] = {"1000": 25}
    assert exchange(board, "36 36") == h("00 19 19")


def test_a_reset_returns_the_bill_in_escrow() -> None:
    board, validator = rig()
    for block in ("30 30", "33 33", "34 00 0F 00 0F 52"):
        exchange(board, block)
    assert validator.insert(500) == "escrow"
    exchange(board, "30 30")
    assert validator.returned() == [500] and validator.stacker_value() == 0
    assert validator.insert(2000) == "rejected"  # bill types off after the reset


def test_parsers() -> None:
    setup = parse_setup(h("01 19 78 00 64 02 01 90 00 00 FF 05 0A 14 32"))
    assert setup.bills_cents == {0: 500, 1: 1000, 2: 2000, 3: 5000}
    assert (setup.stacker_capacity, setup.escrow, setup.currency) == (400, True, 978)
    items = parse_poll(h("91 81 A1 C2 06 09 45"))
    assert [i.route for i in items[:4]] == [BillRoute.ESCROW, BillRoute.STACKED,
                                            BillRoute.RETURNED, BillRoute.DISABLED_REJECTED]
    assert items[6].kind is BillItemKind.ATTEMPTS and items[6].count == 5
    assert parse_stacker(h("80 05")) == (True, 5) and parse_stacker(h("00 19")) == (False, 25)
