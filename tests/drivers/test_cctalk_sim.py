"""The simulated ccTalk devices answer docs/hardware.md's vectors byte for byte, and keep
their registers in the saved world across a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from drivers.cctalk.frame import Header, encode
from simulators.cctalk import SimCctalkBus, build_cctalk_bus
from simulators.world import SimWorld

CctalkRaw = Callable[..., Awaitable[bytes]]
CctalkUntil = Callable[..., Awaitable[None]]
CCTALK_COINS = [5, 10, 20, 50, 100]

pytestmark = pytest.mark.asyncio

ACCEPTOR_EXCHANGES = [
    ("02 00 01 FE FF", "01 00 02 00 FD"),
    ("02 00 01 F5 08", "01 0D 02 00 43 6F 69 6E 20 41 63 63 65 70 74 6F 72 16"),
    ("02 01 01 B8 05 3F", "01 06 02 00 45 55 31 30 30 41 8B"),
    ("02 02 01 E7 1F 00 F5", "01 00 02 00 FD"),
    ("02 01 01 E4 01 17", "01 00 02 00 FD"),
    ("02 01 01 E4 00 18", "01 00 02 00 FD"),
    ("02 00 01 01 FC", "01 00 02 00 FD"),
]

HOPPER_EXCHANGES = [
    ("03 00 01 FE FE", "01 00 03 00 FC"),
    ("03 00 01 F2 0A", "01 03 03 00 DF D7 0A 39"),
    # fresh from power-up: power-up detected and payout disabled (Flow: 3 bytes) ...
    ("03 00 01 A3 59", "01 03 03 00 C0 00 00 39"),
    ("03 00 01 01 FB", "01 00 03 00 FC"),  # ... until a reset (header 1)
    ("03 00 01 A3 59", "01 03 03 00 80 00 00 79"),  # not enabled: payout disabled
    ("03 01 01 A4 A5 B2", "01 00 03 00 FC"),
    ("03 04 01 A7 DF D7 0A 03 8E", "01 01 03 00 01 FA"),
]


async def exchange(raw: CctalkRaw, bus: SimCctalkBus, request: str, reply: str) -> None:
    expected = bytes.fromhex(reply)
    assert await raw(bus.port, bytes.fromhex(request), len(expected)) == expected


async def test_acceptor_answers_the_vectors(cctalk_bus: SimCctalkBus,
                                            cctalk_raw: CctalkRaw) -> None:
    for request, reply in ACCEPTOR_EXCHANGES:
        await exchange(cctalk_raw, cctalk_bus, request, reply)


async def test_buffered_credit_vector(cctalk_bus: SimCctalkBus, cctalk_raw: CctalkRaw) -> None:
    acceptor = cctalk_bus.acceptor
    assert acceptor is not None
    await exchange(cctalk_raw, cctalk_bus, "02 02 01 E7 1E 00 F6", "01 00 02 00 FD")  # not 5c
    await exchange(cctalk_raw, cctalk_bus, "02 01 01 E4 01 17", "01 00 02 00 FD")
    assert [acceptor.insert(10), acceptor.insert(5), acceptor.insert(100)] == [
        "accepted", "inhibited", "accepted"]
    await exchange(cctalk_raw, cctalk_bus, "02 00 01 E5 18",
                   "01 0B 02 00 03 05 01 00 02 02 01 00 00 00 00 E4")


async def test_hopper_answers_the_vectors(cctalk_bus: SimCctalkBus, cctalk_raw: CctalkRaw,
                                          cctalk_world: SimWorld,
                                          cctalk_until: CctalkUntil) -> None:
    for request, reply in HOPPER_EXCHANGES:
        await exchange(cctalk_raw, cctalk_bus, request, reply)
    await cctalk_until(lambda: cctalk_world.hoppers[5] == 17)
    await exchange(cctalk_raw, cctalk_bus, "03 00 01 A6 56", "01 04 03 00 01 00 03 00 F4")
    assert cctalk_world.hoppers[5] == 17
    assert cctalk_world.cup == [5, 5, 5]


@pytest.mark.parametrize(("model", "test_reply", "dispense_reply"), [
    ("sch1", "01 01 03 00 80 7B", "01 00 03 00 FC"),  # 1-byte flags, plain ACK
    ("sch2", "01 02 03 00 80 00 7A", "01 01 03 00 01 FA"),
    ("flow", "01 03 03 00 80 00 00 79", "01 01 03 00 01 FA"),
])
async def test_models_answer_in_their_own_form(cctalk_world: SimWorld, cctalk_raw: CctalkRaw,
                                               model: str, test_reply: str,
                                               dispense_reply: str) -> None:
    bus = build_cctalk_bus(cctalk_world, hopper_model=model, coin_interval_s=0.002)
    await bus.start()
    try:
        await exchange(cctalk_raw, bus, "03 00 01 01 FB", "01 00 03 00 FC")  # reset
        await exchange(cctalk_raw, bus, "03 00 01 A3 59", test_reply)
        await exchange(cctalk_raw, bus, "03 01 01 A4 A5 B2", "01 00 03 00 FC")
        if model == "sch2":
            assert len(await cctalk_raw(bus.port, bytes.fromhex("03 00 01 A0 5C"), 13)) == 13
            await exchange(cctalk_raw, bus, "03 09 01 A7 00 00 00 00 00 00 00 00 01 4B",
                           dispense_reply)
        else:
            await exchange(cctalk_raw, bus, "03 04 01 A7 DF D7 0A 01 90", dispense_reply)
    finally:
        await bus.close()


async def test_sch2_zero_security_vector(cctalk_world: SimWorld, cctalk_raw: CctalkRaw,
                                         cctalk_until: CctalkUntil) -> None:
    bus = build_cctalk_bus(cctalk_world, hopper_model="sch2", coin_interval_s=0.002)
    await bus.start()
    zero_dispense = "03 09 01 A7 00 00 00 00 00 00 00 00 01 4B"
    try:
        await exchange(cctalk_raw, bus, "03 01 01 A4 A5 B2", "01 00 03 00 FC")
        # without a cipher key first: NAK, and an SCH2 does not count it
        await exchange(cctalk_raw, bus, zero_dispense, "01 00 03 05 F7")
        assert bus.hoppers[5].reg("counter") == 0
        key = await cctalk_raw(bus.port, bytes.fromhex("03 00 01 A0 5C"), 13)
        assert key[:4] == bytes.fromhex("01 08 03 00") and sum(key) % 256 == 0
        await exchange(cctalk_raw, bus, zero_dispense, "01 01 03 00 01 FA")
        # the key is good for one dispense only; the serial-number form is refused
        await exchange(cctalk_raw, bus, zero_dispense, "01 00 03 05 F7")
        await exchange(cctalk_raw, bus, "03 04 01 A7 DF D7 0A 03 8E", "01 00 03 05 F7")
        assert bus.hoppers[5].reg("counter") == 1
        # what other hosts send: pump RNG (161) with 8 bytes, the key (160), then
        # any 8 bytes (no encryption: neither the key nor zeros needed)
        pump = encode(3, 1, Header.PUMP_RNG, bytes(range(1, 9)))
        await exchange(cctalk_raw, bus, pump.hex(" "), "01 00 03 00 FC")
        assert len(await cctalk_raw(bus.port, bytes.fromhex("03 00 01 A0 5C"), 13)) == 13
        await cctalk_until(lambda: not bus.hoppers[5].reg("remaining"))
        anything = encode(3, 1, Header.DISPENSE_COINS,
                          bytes.fromhex("5A A5 13 37 00 FF 42 24 01"))
        await exchange(cctalk_raw, bus, anything.hex(" "), "01 01 03 00 02 F9")
        assert bus.hoppers[5].reg("counter") == 2
    finally:
        await bus.close()


async def test_crc16_bus(cctalk_world: SimWorld, cctalk_raw: CctalkRaw) -> None:
    bus = build_cctalk_bus(cctalk_world, checksum="crc16")
    await bus.start()
    try:
        poll = encode(2, 1, Header.SIMPLE_POLL, checksum="crc16")
        ack = encode(1, 2, Header.ACK, checksum="crc16")
        assert await cctalk_raw(bus.port, poll, 5) == ack
        # a simple-checksum frame is noise on a CRC16 bus: silence
        assert await cctalk_raw(bus.port, bytes.fromhex("02 00 01 FE FF"), 5, 0.1) == b""
    finally:
        await bus.close()


async def test_silence_on_bad_checksum_or_unknown_address(cctalk_bus: SimCctalkBus,
                                                          cctalk_raw: CctalkRaw) -> None:
    assert await cctalk_raw(cctalk_bus.port, bytes.fromhex("02 00 01 FE FE"), 5, 0.1) == b""
    assert await cctalk_raw(cctalk_bus.port, bytes.fromhex("09 00 01 FE F8"), 5, 0.1) == b""
    await exchange(cctalk_raw, cctalk_bus, "02 00 01 FE FF", "01 00 02 00 FD")


async def test_echo_bus_returns_the_request_first(cctalk_world: SimWorld,
                                                  cctalk_raw: CctalkRaw) -> None:
    bus = build_cctalk_bus(cctalk_world, echo=True)
    await bus.start()
    try:
        await exchange(cctalk_raw, bus, "02 00 01 FE FF", "02 00 01 FE FF 01 00 02 00 FD")
    finally:
        await bus.close()


async def test_registers_survive_a_restart(tmp_path: Path, cctalk_raw: CctalkRaw,
                                           cctalk_until: CctalkUntil) -> None:
    path = tmp_path / "world.json"
    world = SimWorld.load_or_create(path, coins=CCTALK_COINS, slots=[])
    bus = build_cctalk_bus(world, coin_interval_s=0.002)
    await bus.start()
    assert bus.acceptor is not None
    await exchange(cctalk_raw, bus, "02 02 01 E7 1F 00 F5", "01 00 02 00 FD")
    await exchange(cctalk_raw, bus, "02 01 01 E4 01 17", "01 00 02 00 FD")
    bus.acceptor.insert(50)
    bus.acceptor.insert(20)
    await exchange(cctalk_raw, bus, "03 01 01 A4 A5 B2", "01 00 03 00 FC")
    await exchange(cctalk_raw, bus, "03 04 01 A7 DF D7 0A 03 8E", "01 01 03 00 01 FA")
    await cctalk_until(lambda: world.hoppers[5] == 17)
    await bus.close()

    reborn = SimWorld.load_or_create(path, coins=CCTALK_COINS, slots=[])
    bus = build_cctalk_bus(reborn)
    await bus.start()
    try:
        assert bus.acceptor is not None
        assert bus.acceptor.inhibit_mask == 0x1F and bus.acceptor.master_enabled
        await exchange(cctalk_raw, bus, "02 00 01 E5 18",
                       "01 0B 02 00 02 03 01 04 01 00 00 00 00 00 00 E7")
        await exchange(cctalk_raw, bus, "03 00 01 A6 56", "01 04 03 00 01 00 03 00 F4")
        assert reborn.hoppers[50] == 21 and reborn.hoppers[20] == 21 and reborn.hoppers[5] == 17
    finally:
        await bus.close()


async def test_interrupted_payout_resumes_after_restart(tmp_path: Path, cctalk_raw: CctalkRaw,
                                                        cctalk_until: CctalkUntil) -> None:
    path = tmp_path / "world.json"
    world = SimWorld.load_or_create(path, coins=CCTALK_COINS, slots=[])
    bus = build_cctalk_bus(world, coin_interval_s=0.02)
    await bus.start()
    await exchange(cctalk_raw, bus, "03 01 01 A4 A5 B2", "01 00 03 00 FC")
    await exchange(cctalk_raw, bus, "03 04 01 A7 DF D7 0A 05 8C", "01 01 03 00 01 FA")
    await cctalk_until(lambda: world.device("cctalk:hopper:5")["paid"] >= 1)
    await bus.close()  # the process dies mid payout; the hopper motor would keep going
    paid_before = world.device("cctalk:hopper:5")["paid"]
    assert 0 < paid_before < 5

    reborn = SimWorld.load_or_create(path, coins=CCTALK_COINS, slots=[])
    bus = build_cctalk_bus(reborn, coin_interval_s=0.002)
    await bus.start()
    try:
        await cctalk_until(lambda: reborn.device("cctalk:hopper:5")["paid"] == 5)
        await exchange(cctalk_raw, bus, "03 00 01 A6 56", "01 04 03 00 01 00 05 00 F2")
        assert reborn.hoppers[5] == 15
    finally:
        await bus.close()


async def test_fault_names(cctalk_bus: SimCctalkBus) -> None:
    acceptor = cctalk_bus.device_named("acceptor")
    hopper = cctalk_bus.device_named("hopper:50")
    for fault in ("silent", "bad_checksum", "reset", "jam"):
        acceptor.inject(fault)
    for fault in ("silent", "bad_checksum", "reset", "empty", "jam", "short_pay", "slow",
                  "nak", "busy", "late_coin"):
        hopper.inject(fault)
    hopper.inject("clear")
    assert not hopper.faults
    with pytest.raises(ValueError):
        acceptor.inject("empty")
