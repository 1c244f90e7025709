"""The real ccTalk link against the simulated bus over a pty: replies, retries, faults, echo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from drivers.cctalk.frame import Header
from drivers.cctalk.link import CctalkLink, EchoMode
from drivers.errors import DeviceBusy, DeviceLost, DeviceNak, HardwareError
from simulators.cctalk import SimCctalkBus, build_cctalk_bus
from simulators.world import SimWorld

pytestmark = pytest.mark.asyncio

CctalkUntil = Callable[..., Awaitable[None]]
TIMEOUT_S = 0.03


@asynccontextmanager
async def bus_and_link(world: SimWorld, *, echo: bool = False, link_echo: EchoMode = "auto",
                       checksum: str = "simple") -> AsyncIterator[tuple[SimCctalkBus, CctalkLink]]:
    bus = build_cctalk_bus(world, echo=echo, checksum="crc16" if checksum == "crc16" else "simple")
    await bus.start()
    link = CctalkLink(bus.port, echo=link_echo, reply_timeout_s=TIMEOUT_S, retries=2,
                      checksum="crc16" if checksum == "crc16" else "simple")
    await link.start()
    try:
        yield bus, link
    finally:
        await link.close()
        await bus.close()


async def test_identification(cctalk_link: CctalkLink) -> None:
    assert await cctalk_link.request(2, Header.SIMPLE_POLL) == b""
    assert await cctalk_link.request(2, Header.EQUIPMENT_CATEGORY) == b"Coin Acceptor"
    assert await cctalk_link.request(2, Header.COIN_ID, b"\x05") == b"EU100A"
    assert await cctalk_link.request(2, Header.COIN_ID, b"\x06") == b"......"
    assert await cctalk_link.request(3, Header.SERIAL_NUMBER) == bytes.fromhex("DF D7 0A")
    assert await cctalk_link.request(7, Header.EQUIPMENT_CATEGORY) == b"Payout"


async def test_requests_go_out_one_at_a_time(cctalk_link: CctalkLink) -> None:
    serials = await asyncio.gather(*(cctalk_link.request(a, Header.SERIAL_NUMBER)
                                     for a in (3, 4, 5, 6, 7) * 4))
    assert [s[2] for s in serials] == [0x0A] * 20
    assert [s[0] for s in serials[:5]] == [0xDF, 0xE0, 0xE1, 0xE2, 0xE3]


async def test_silent_device_is_lost_after_bounded_retries(cctalk_bus: SimCctalkBus,
                                                          cctalk_link: CctalkLink) -> None:
    cctalk_bus.hoppers[50].inject("silent")
    with pytest.raises(DeviceLost) as info:
        await cctalk_link.request(6, Header.SIMPLE_POLL)
    assert isinstance(info.value, ConnectionError)
    assert len(cctalk_bus.hoppers[50].entries("rx")) == 3  # 1 + 2 retries
    with pytest.raises(DeviceLost):
        await cctalk_link.request(6, Header.SIMPLE_POLL, retries=0)
    assert len(cctalk_bus.hoppers[50].entries("rx")) == 4
    cctalk_bus.hoppers[50].clear()
    assert await cctalk_link.request(6, Header.SIMPLE_POLL) == b""


async def test_no_device_at_address(cctalk_link: CctalkLink) -> None:
    with pytest.raises(DeviceLost):
        await cctalk_link.request(9, Header.SIMPLE_POLL, retries=0)


async def test_bad_checksum_is_retried_then_lost(cctalk_bus: SimCctalkBus,
                                                cctalk_link: CctalkLink) -> None:
    acceptor = cctalk_bus.acceptor
    assert acceptor is not None
    acceptor.inject("bad_checksum")
    with pytest.raises(DeviceLost, match="checksum"):
        await cctalk_link.request(2, Header.READ_BUFFERED_CREDIT)
    assert len(acceptor.entries("rx")) == 3


async def test_one_corrupt_reply_is_retried(cctalk_bus: SimCctalkBus,
                                           cctalk_link: CctalkLink) -> None:
    hopper = cctalk_bus.hoppers[5]
    hopper.corrupt_replies[Header.SERIAL_NUMBER] = 2
    assert await cctalk_link.request(3, Header.SERIAL_NUMBER) == bytes.fromhex("DF D7 0A")
    assert hopper.entries("tx")[0] == "01 03 03 00 df d7 0a 3a"  # checksum off by one
    assert len(hopper.entries("rx")) == 3


async def test_nak_and_busy(cctalk_bus: SimCctalkBus, cctalk_link: CctalkLink) -> None:
    hopper = cctalk_bus.hoppers[10]
    hopper.inject("nak")
    with pytest.raises(DeviceNak):
        await cctalk_link.request(4, Header.SIMPLE_POLL)
    hopper.clear()
    hopper.inject("busy")
    with pytest.raises(DeviceBusy):
        await cctalk_link.request(4, Header.SIMPLE_POLL)
    assert len(hopper.entries("rx")) == 2  # no retry: the device answered
    hopper.clear()
    assert await cctalk_link.request(4, Header.SIMPLE_POLL) == b""


async def test_unknown_header_is_nak(cctalk_link: CctalkLink) -> None:
    with pytest.raises(DeviceNak):
        await cctalk_link.request(2, 200)


async def test_slow_device_then_stale_reply_is_not_taken(cctalk_bus: SimCctalkBus,
                                                        cctalk_link: CctalkLink) -> None:
    hopper = cctalk_bus.hoppers[5]
    hopper.slow_delay_s = 0.06
    hopper.inject("slow")
    with pytest.raises(DeviceLost):
        await cctalk_link.request(3, Header.SERIAL_NUMBER, retries=0)
    hopper.clear()
    # the late 3-byte serial reply arrives during this request and must be ignored
    status = await cctalk_link.request(3, Header.HOPPER_STATUS, reply_len=4)
    assert status == bytes(4)


async def test_link_trace_at_debug(cctalk_link: CctalkLink,
                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="drivers.cctalk.link"):
        await cctalk_link.request(2, Header.SIMPLE_POLL)
    assert "tx 02 00 01 fe ff" in caplog.text
    assert "rx 01 00 02 00 fd" in caplog.text


@pytest.mark.parametrize(("bus_echo", "mode", "detected"), [
    (True, "auto", True), (False, "auto", False), (True, "on", True), (False, "off", False),
])
async def test_echo_modes(cctalk_world: SimWorld, bus_echo: bool, mode: EchoMode,
                          detected: bool) -> None:
    async with bus_and_link(cctalk_world, echo=bus_echo, link_echo=mode) as (_, link):
        assert await link.request(2, Header.EQUIPMENT_CATEGORY) == b"Coin Acceptor"
        assert await link.request(3, Header.SERIAL_NUMBER) == bytes.fromhex("DF D7 0A")
        assert link.echo_detected is detected


async def test_echo_auto_detects_from_a_silent_device(cctalk_world: SimWorld) -> None:
    async with bus_and_link(cctalk_world, echo=True) as (bus, link):
        bus.hoppers[5].inject("silent")
        with pytest.raises(DeviceLost):
            await link.request(3, Header.SIMPLE_POLL, retries=0)
        assert link.echo_detected is True


async def test_echo_on_without_an_echo_is_a_fault(cctalk_world: SimWorld) -> None:
    async with bus_and_link(cctalk_world, echo=False, link_echo="on") as (_, link):
        with pytest.raises(DeviceLost):
            await link.request(2, Header.SIMPLE_POLL)


async def test_crc16_link(cctalk_world: SimWorld) -> None:
    async with bus_and_link(cctalk_world, checksum="crc16") as (bus, link):
        assert await link.request(2, Header.COIN_ID, b"\x01") == b"EU005A"
        assert bus.acceptor is not None
        assert bus.acceptor.entries("rx")[0] == "02 01 dd b8 01 5d"


async def test_crc16_link_on_a_simple_bus_gets_nothing(cctalk_world: SimWorld) -> None:
    bus = build_cctalk_bus(cctalk_world)
    await bus.start()
    link = CctalkLink(bus.port, checksum="crc16", reply_timeout_s=TIMEOUT_S, retries=0)
    await link.start()
    try:
        with pytest.raises(HardwareError):
            await link.request(2, Header.SIMPLE_POLL)
    finally:
        await link.close()
        await bus.close()


async def test_noise_before_a_request_is_flushed(cctalk_bus: SimCctalkBus,
                                                cctalk_link: CctalkLink) -> None:
    cctalk_bus.inject_noise(bytes.fromhex("01 0B 02 00 03 05 01"))
    await asyncio.sleep(0.005)
    assert await cctalk_link.request(2, Header.SIMPLE_POLL) == b""


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        CctalkLink("/dev/null", echo="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CctalkLink("/dev/null", retries=-1)


async def test_port_gone_is_device_lost(cctalk_world: SimWorld) -> None:
    bus = build_cctalk_bus(cctalk_world)
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=TIMEOUT_S, retries=0)
    await link.start()
    try:
        assert await link.request(2, Header.SIMPLE_POLL) == b""
        await bus.close()  # the adapter is unplugged
        with pytest.raises(DeviceLost):
            await link.request(2, Header.SIMPLE_POLL)
        with pytest.raises(DeviceLost):
            await link.request(2, Header.SIMPLE_POLL)
    finally:
        await link.close()


async def test_a_port_missing_at_start_is_tried_on_every_request(
        cctalk_bus: SimCctalkBus, tmp_path: Path) -> None:
    plug = tmp_path / "ttyUSB0"
    link = CctalkLink(str(plug), reply_timeout_s=TIMEOUT_S, retries=0)
    await link.start(defer=True)  # no adapter: not an error yet
    with pytest.raises(DeviceLost, match=f"serial port {plug} cannot be opened"):
        await link.request(2, Header.SIMPLE_POLL)
    plug.symlink_to(cctalk_bus.port)  # the adapter plugged in
    assert await link.request(2, Header.SIMPLE_POLL) == b""
    await link.close()
    with pytest.raises(DeviceLost, match="not open"):  # closed by its owner: stays closed
        await link.request(2, Header.SIMPLE_POLL)
