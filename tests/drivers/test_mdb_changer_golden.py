"""MDB.md §2's changer table, byte for byte, against the simulated changer on the board."""

from __future__ import annotations

import time

from drivers.mdb.changer_bytes import (
    ItemKind,
    Route,
    parse_poll,
    parse_setup,
    parse_tube_status,
)
from simulators.mdb.board import SimQibixxBoard
from simulators.mdb.changer import SimMdbChanger
from simulators.world import SimWorld

COINS = [5, 10, 20, 50, 100]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def table_rig(coin_s: float = 0.01) -> tuple[SimQibixxBoard, SimMdbChanger]:
    world = SimWorld.load_or_create(None, coins=COINS, slots=["A1"], hopper_capacity=50)
    for coin, count in {5: 16, 10: 12, 20: 8, 50: 5, 100: 0}.items():
        world.hoppers[coin] = count
    changer = SimMdbChanger(world, coins=COINS, tube_coins=[5, 10, 20, 50], coin_s=coin_s)
    board = SimQibixxBoard()
    board.add(changer)
    return board, changer


def exchange(board: SimQibixxBoard, vmc: str) -> bytes:
    """Send one VMC block (hex, CHK included) and return the changer's wire answer."""
    before = len(board.wire_log)
    board.send_block(h(vmc))
    answers = [b for who, b in list(board.wire_log)[before:] if who == "dev"]
    return answers[0] if answers else b""


def test_the_changer_table_byte_for_byte() -> None:
    board, changer = table_rig()
    assert exchange(board, "08 08") == h("00")
    assert exchange(board, "0B 0B") == h("0B 0B")
    assert board.wire_log[-1] == ("vmc", h("00"))  # the VMC's ACK of the data
    assert exchange(board, "09 09") == h("03 19 78 05 02 00 0F 01 02 04 0A 14") + bytes(11) + h(
        "CF")
    assert exchange(board, "0F 01 00 00 00 03 13") == h("00")
    assert exchange(board, "0A 0A") == h("00 00 10 0C 08 05") + bytes(12) + h("29")
    assert exchange(board, "0C 00 1F FF FF 29") == h("00")
    assert changer.insert(20) == "accepted"
    assert exchange(board, "0B 0B") == h("52 09 5B")
    assert changer.insert(100) == "accepted"
    assert exchange(board, "0B 0B") == h("44 00 44")
    assert exchange(board, "0D 21 2E") == h("00")
    assert exchange(board, "0B 0B") == h("02 02")
    time.sleep(0.03)
    assert exchange(board, "0B 0B") == h("00")
    assert changer.world.cup == [10, 10] and changer.world.hoppers[10] == 10


def test_alternative_payout_value_poll_and_payout_status() -> None:
    board, changer = table_rig()
    for block in ("08 08", "0B 0B", "09 09", "0C 00 1F FF FF 29"):
        exchange(board, block)
    assert exchange(board, "0F 02 0E 1F") == h("00")
    total = 0
    for _ in range(100):
        answer = exchange(board, "0F 04 13")
        if answer == h("00"):
            break
        total += answer[0]
        time.sleep(0.005)
    assert total == 0x0E  # 70 c in units of 5 c
    assert exchange(board, "0F 03 12") == h("00 00 01 01 02")
    assert sorted(changer.world.cup) == [20, 50]


def test_parsers_read_the_table_and_short_replies() -> None:
    setup = parse_setup(h("03 19 78 05 02 00 0F 01 02 04 0A 14"))
    assert (setup.level, setup.currency, setup.tube_mask) == (3, 978, 0x0F)
    assert setup.coins_cents == {0: 5, 1: 10, 2: 20, 3: 50, 4: 100}
    assert setup.type_of(50) == 3 and setup.type_of(200) is None
    tubes = parse_tube_status(h("00 00 11 00 08"))  # vender's short reply
    assert tubes.counts[:3] == (0x11, 0, 8) and tubes.counts[3:] == (0,) * 13
    assert parse_tube_status(h("00 01 00")).bad_tube(0)
    items = parse_poll(h("52 09 44 00 02 0B 23 A1 05"))
    assert [i.kind for i in items] == [ItemKind.DEPOSIT, ItemKind.DEPOSIT, ItemKind.STATUS,
                                       ItemKind.STATUS, ItemKind.SLUGS, ItemKind.MANUAL]
    assert (items[0].route, items[0].coin_type, items[0].tube_count) == (Route.TUBE, 2, 9)
    assert items[1].route is Route.CASHBOX and items[4].count == 3
    assert (items[5].count, items[5].coin_type, items[5].tube_count) == (2, 1, 5)
