"""Every ccTalk byte vector of docs/hardware.md, encoded and decoded by the framing code."""

from __future__ import annotations

import pytest

from drivers.base import CoinEventKind
from drivers.cctalk.coins import (
    event_kind,
    inhibit_mask,
    new_event_count,
    parse_coin_id,
    resolve_coin_values,
)
from drivers.cctalk.frame import (
    Frame,
    FrameReader,
    Header,
    crc16_ccitt,
    decode,
    encode,
    simple_checksum,
)
from drivers.errors import ProtocolError

# (what, dest, src, header, data, bytes on the wire)
REQUESTS = [
    ("simple poll", 2, 1, Header.SIMPLE_POLL, "", "02 00 01 FE FF"),
    ("equipment category", 2, 1, Header.EQUIPMENT_CATEGORY, "", "02 00 01 F5 08"),
    ("coin id 5", 2, 1, Header.COIN_ID, "05", "02 01 01 B8 05 3F"),
    ("inhibit 1-5", 2, 1, Header.MODIFY_INHIBIT_STATUS, "1F 00", "02 02 01 E7 1F 00 F5"),
    ("master normal", 2, 1, Header.MODIFY_MASTER_INHIBIT, "01", "02 01 01 E4 01 17"),
    ("master nothing", 2, 1, Header.MODIFY_MASTER_INHIBIT, "00", "02 01 01 E4 00 18"),
    ("buffered credit", 2, 1, Header.READ_BUFFERED_CREDIT, "", "02 00 01 E5 18"),
    ("reset", 2, 1, Header.RESET_DEVICE, "", "02 00 01 01 FC"),
    ("hopper poll", 3, 1, Header.SIMPLE_POLL, "", "03 00 01 FE FE"),
    ("serial number", 3, 1, Header.SERIAL_NUMBER, "", "03 00 01 F2 0A"),
    ("test hopper", 3, 1, Header.TEST_HOPPER, "", "03 00 01 A3 59"),
    ("enable hopper", 3, 1, Header.ENABLE_HOPPER, "A5", "03 01 01 A4 A5 B2"),
    ("dispense 3 serial", 3, 1, Header.DISPENSE_COINS, "DF D7 0A 03",
     "03 04 01 A7 DF D7 0A 03 8E"),
    ("dispense 1 zero", 3, 1, Header.DISPENSE_COINS, "00 00 00 00 00 00 00 00 01",
     "03 09 01 A7 00 00 00 00 00 00 00 00 01 4B"),
    ("hopper status", 3, 1, Header.HOPPER_STATUS, "", "03 00 01 A6 56"),
    ("emergency stop", 3, 1, Header.EMERGENCY_STOP, "", "03 00 01 AC 50"),
]

REPLIES = [
    ("ack acceptor", 1, 2, "", "01 00 02 00 FD"),
    ("category", 1, 2, "43 6F 69 6E 20 41 63 63 65 70 74 6F 72",
     "01 0D 02 00 43 6F 69 6E 20 41 63 63 65 70 74 6F 72 16"),
    ("coin id EU100A", 1, 2, "45 55 31 30 30 41", "01 06 02 00 45 55 31 30 30 41 8B"),
    ("buffered credit", 1, 2, "03 05 01 00 02 02 01 00 00 00 00",
     "01 0B 02 00 03 05 01 00 02 02 01 00 00 00 00 E4"),
    ("ack hopper", 1, 3, "", "01 00 03 00 FC"),
    ("serial", 1, 3, "DF D7 0A", "01 03 03 00 DF D7 0A 39"),
    ("test hopper", 1, 3, "80", "01 01 03 00 80 7B"),
    ("dispense counter", 1, 3, "01", "01 01 03 00 01 FA"),
    ("hopper status", 1, 3, "01 00 03 00", "01 04 03 00 01 00 03 00 F4"),
]


@pytest.mark.parametrize(("what", "dest", "src", "header", "data", "wire"), REQUESTS,
                         ids=[r[0] for r in REQUESTS])
def test_request_vectors(what: str, dest: int, src: int, header: int, data: str,
                         wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert encode(dest, src, header, bytes.fromhex(data)) == raw
    assert decode(raw) == Frame(dest, src, header, bytes.fromhex(data))


@pytest.mark.parametrize(("what", "dest", "src", "data", "wire"), REPLIES,
                         ids=[r[0] for r in REPLIES])
def test_reply_vectors(what: str, dest: int, src: int, data: str, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert decode(raw) == Frame(dest, src, Header.ACK, bytes.fromhex(data))
    assert encode(dest, src, Header.ACK, bytes.fromhex(data)) == raw


def test_category_and_coin_id_text() -> None:
    assert decode(bytes.fromhex(REPLIES[1][4])).data == b"Coin Acceptor"
    assert decode(bytes.fromhex(REPLIES[2][4])).data == b"EU100A"


def test_crc16_check_vector() -> None:
    assert crc16_ccitt(bytes((0x28, 0x00, 0xFE))) == 0x21B6
    raw = bytes.fromhex("28 00 B6 FE 21")
    assert encode(40, 1, Header.SIMPLE_POLL, checksum="crc16") == raw
    assert decode(raw, "crc16") == Frame(40, None, Header.SIMPLE_POLL, b"")


def test_crc16_round_trip_with_data() -> None:
    raw = encode(1, 2, 0, b"EU100A", checksum="crc16")
    assert decode(raw, "crc16").data == b"EU100A"
    with pytest.raises(ProtocolError):
        decode(raw[:-1] + bytes(((raw[-1] + 1) & 0xFF,)), "crc16")
    with pytest.raises(ProtocolError):
        decode(raw, "simple")


def test_checksum_is_never_256() -> None:
    assert simple_checksum(bytes((0x80, 0x80))) == 0
    assert encode(0x80, 0x80, 0)[-1] == 0  # sum 256 -> checksum 0, not 256


@pytest.mark.parametrize("bad", [
    "02 00 01 FE FE",  # checksum off by one
    "01 0B 02 00 03",  # length byte says 11 data bytes
    "02 00 01",  # too short
    "01 00 02 00 FD 00",  # one byte too many
])
def test_decode_rejects(bad: str) -> None:
    with pytest.raises(ProtocolError):
        decode(bytes.fromhex(bad))


def test_encode_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        encode(256, 1, 0)
    with pytest.raises(ValueError):
        encode(2, 1, 0, bytes(256))


def test_frame_reader_splits_a_stream() -> None:
    reader = FrameReader()
    stream = bytes.fromhex("02 00 01 FE FF 01 06 02 00 45 55 31 30 30 41 8B")
    reader.feed(stream[:3])
    assert reader.next_frame() is None
    assert reader.missing() == 2
    reader.feed(stream[3:9])
    assert reader.next_frame() == stream[:5]
    assert reader.next_frame() is None
    reader.feed(stream[9:])
    assert reader.next_frame() == stream[5:]
    assert reader.pending == 0


def test_coin_ids_and_values() -> None:
    assert parse_coin_id(b"EU100A") == "EU100A"
    assert parse_coin_id(b"......") is None
    assert parse_coin_id(b"") is None
    ids = {1: "EU200A", 2: None, 3: "EU005A", 4: "XX1K0A", 5: "EU050A"}
    assert resolve_coin_values(ids) == {1: 200, 3: 5, 5: 50}
    assert resolve_coin_values(ids, {"XX1K0A": 1000, 5: 20}) == {1: 200, 3: 5, 4: 1000, 5: 20}


def test_inhibit_mask_bits() -> None:
    values = {1: 5, 2: 10, 3: 20, 4: 50, 5: 100, 9: 200}
    assert inhibit_mask(values, {5, 10, 20, 50, 100}) == b"\x1f\x00"
    assert inhibit_mask(values, {10, 50}) == b"\x0a\x00"
    assert inhibit_mask(values, {200}) == b"\x00\x01"
    assert inhibit_mask(values, ()) == b"\x00\x00"


def test_event_counter_arithmetic() -> None:
    assert new_event_count(3, 1) == 2
    assert new_event_count(1, 255) == 1  # wraps to 1, never 0
    assert new_event_count(2, 254) == 3
    assert new_event_count(7, 7) == 0
    assert new_event_count(255, 0) == 255  # after a reset every event counts


@pytest.mark.parametrize(("code", "kind"), [
    (1, CoinEventKind.REJECTED), (2, CoinEventKind.INHIBITED), (128, CoinEventKind.INHIBITED),
    (159, CoinEventKind.INHIBITED), (8, CoinEventKind.SENSOR), (14, CoinEventKind.SENSOR_FAULT),
    (16, CoinEventKind.FRAUD), (17, CoinEventKind.COIN_BACKWARDS),
    (18, CoinEventKind.COIN_MAY_BE_SWALLOWED), (20, CoinEventKind.FRAUD),
    (23, CoinEventKind.FRAUD), (36, CoinEventKind.COIN_MAY_BE_SWALLOWED),
    (40, CoinEventKind.FRAUD), (254, CoinEventKind.RETURN_LEVER),
    (255, CoinEventKind.ALARM), (3, CoinEventKind.REJECTED), (160, CoinEventKind.ALARM),
])
def test_event_codes(code: int, kind: CoinEventKind) -> None:
    assert event_kind(code) is kind
