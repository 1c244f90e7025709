"""The real ccTalk hopper driver against the simulated hoppers over a pty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from drivers.base import HopperStatus
from drivers.cctalk.hopper import CctalkHopper, fault_from_test_flags
from drivers.cctalk.hopper_flags import describe_test_flags
from drivers.cctalk.link import CctalkLink
from drivers.errors import DeviceNak, HardwareError
from simulators.cctalk import SimCctalkBus, SimCctalkHopper, build_cctalk_bus
from simulators.world import SimWorld

FILL_50 = 20  # coins in the simulated 50c hopper at first start

pytestmark = pytest.mark.asyncio

CctalkUntil = Callable[..., Awaitable[None]]
FAST: dict[str, Any] = {"status_poll_interval_s": 0.003, "dispense_timeout_s": 0.5,
                        "late_coin_window_s": 0.02}


def make_hopper(link: CctalkLink, coin: int, address: int, **options: Any) -> CctalkHopper:
    return CctalkHopper(link, address=address, coin_cents=coin, **{**FAST, **options})


@pytest_asyncio.fixture
async def hopper50(cctalk_link: CctalkLink) -> AsyncIterator[CctalkHopper]:
    driver = make_hopper(cctalk_link, 50, 6)
    await driver.start()
    yield driver
    await driver.close()


@pytest.fixture
def sim50(cctalk_bus: SimCctalkBus) -> SimCctalkHopper:
    return cctalk_bus.hoppers[50]


class Paid:
    def __init__(self) -> None:
        self.seen: list[int] = []

    async def __call__(self, total: int) -> None:
        self.seen.append(total)


def dispense_frames(sim: SimCctalkHopper) -> list[str]:
    return [f for f in sim.entries("rx") if f.split()[3] == "a7"]


async def test_dispense_with_serial_security(cctalk_link: CctalkLink, cctalk_bus: SimCctalkBus,
                                             cctalk_world: SimWorld) -> None:
    driver = make_hopper(cctalk_link, 5, 3)
    await driver.start()
    assert driver.serial_number == bytes.fromhex("DF D7 0A")
    paid = Paid()
    result = await driver.dispense(3, on_paid=paid)
    assert (result.requested, result.paid, result.fault, result.certain) == (3, 3, None, True)
    assert paid.seen[-1] == 3 and paid.seen == sorted(set(paid.seen))
    sim = cctalk_bus.hoppers[5]
    assert dispense_frames(sim) == ["03 04 01 a7 df d7 0a 03 8e"]
    assert "03 01 01 a4 a5 b2" in sim.entries("rx")
    assert cctalk_world.hoppers[5] == 17 and cctalk_world.cup == [5, 5, 5]
    assert await driver.status() == HopperStatus(counter=1, remaining=0, paid=3, unpaid=0)


async def test_sch2_dispense_asks_for_a_cipher_key_first(cctalk_world: SimWorld) -> None:
    bus = build_cctalk_bus(cctalk_world, hopper_model="sch2", coin_interval_s=0.003)
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.03)
    await link.start()
    try:
        driver = make_hopper(link, 5, 3, security="zero")
        await driver.start()
        result = await driver.dispense(1)
        assert result.paid == 1 and result.fault is None
        assert dispense_frames(bus.hoppers[5]) == [
            "03 09 01 a7 00 00 00 00 00 00 00 00 01 4b"]
        received = bus.hoppers[5].entries("rx")
        dispense_at = received.index(dispense_frames(bus.hoppers[5])[0])
        assert received[dispense_at - 1] == "03 00 01 a0 5c"  # request cipher key first
        wrong = make_hopper(link, 5, 3, security="serial")
        await wrong.start()
        with pytest.raises(DeviceNak):  # refused: certain nothing was paid
            await wrong.dispense(2)
        assert cctalk_world.hoppers[5] == 19
        assert bus.hoppers[5].reg("counter") == 1  # an SCH2 counts only what it takes
    finally:
        await link.close()
        await bus.close()


async def test_status_and_counts_over_255_are_split(cctalk_link: CctalkLink,
                                                     cctalk_bus: SimCctalkBus,
                                                     cctalk_world: SimWorld) -> None:
    sim = cctalk_bus.hoppers[10]
    sim.coin_interval_s = 0.0002
    cctalk_world.set_hopper(10, 300)
    driver = make_hopper(cctalk_link, 10, 4, status_poll_interval_s=0.01)
    await driver.start()
    result = await driver.dispense(260)
    assert (result.paid, result.fault) == (260, None)
    assert [f.split()[-2] for f in dispense_frames(sim)] == ["ff", "05"]
    assert cctalk_world.hoppers[10] == 40
    assert await driver.status() == HopperStatus(counter=2, remaining=0, paid=5, unpaid=0)


async def test_empty_hopper_short_pays(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                       cctalk_world: SimWorld) -> None:
    cctalk_world.set_hopper(50, 2)
    paid = Paid()
    result = await hopper50.dispense(5, on_paid=paid)
    assert (result.paid, result.unpaid, result.fault, result.certain) == (2, 3, "empty", True)
    assert paid.seen[-1] == 2
    assert "06 00 01 a3 56" in sim50.entries("rx")  # test hopper was run
    assert cctalk_world.cup == [50, 50]


async def test_empty_fault(hopper50: CctalkHopper, sim50: SimCctalkHopper) -> None:
    sim50.inject("empty")
    result = await hopper50.dispense(2)
    assert (result.paid, result.fault, result.certain) == (0, "empty", True)


async def test_jam(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                   cctalk_world: SimWorld) -> None:
    sim50.inject("jam")
    result = await hopper50.dispense(4)
    assert (result.paid, result.fault) == (1, "jam")
    assert cctalk_world.hoppers[50] == 19


async def test_short_pay(hopper50: CctalkHopper, sim50: SimCctalkHopper) -> None:
    sim50.unpaid_clear_s = 0.001  # the hopper forgets unpaid quickly; the driver does not
    sim50.inject("short_pay")
    result = await hopper50.dispense(3)
    assert (result.paid, result.unpaid, result.fault) == (2, 1, "short_pay")


async def test_fault_from_flags() -> None:
    assert fault_from_test_flags(b"\x01") == "jam"
    assert fault_from_test_flags(b"\x20") == "jam"
    assert fault_from_test_flags(b"\x02") == "empty"
    assert fault_from_test_flags(b"\x80") == "short_pay"
    assert fault_from_test_flags(b"") == "short_pay"
    assert fault_from_test_flags(b"\x04") == "short_pay"  # motor reversed: a jam cleared, latched
    assert fault_from_test_flags(b"\x06") == "empty"  # an empty hopper after a cleared jam
    assert fault_from_test_flags(b"\x08") == fault_from_test_flags(b"\x10") == "sensor"
    assert fault_from_test_flags(b"\x02\xff\xff") == "empty"  # only the first byte counts
    assert describe_test_flags(b"\x84") == [
        "motor reversed to clear a jam (latched until reset)", "payout disabled"]


async def test_lost_dispense_reply_pays_once(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                             cctalk_world: SimWorld) -> None:
    sim50.lose_replies[0xA7] = 1
    result = await hopper50.dispense(3)
    assert (result.paid, result.fault) == (3, None)
    assert len(dispense_frames(sim50)) == 1  # read status instead of sending it again
    assert cctalk_world.hoppers[50] == 17


async def test_lost_dispense_request_is_sent_again(hopper50: CctalkHopper,
                                                   sim50: SimCctalkHopper,
                                                   cctalk_world: SimWorld) -> None:
    sim50.lose_requests[0xA7] = 1
    result = await hopper50.dispense(2)
    assert (result.paid, result.fault) == (2, None)
    assert len(sim50.entries("lost")) == 1 and len(dispense_frames(sim50)) == 1
    assert sim50.reg("counter") == 1
    assert cctalk_world.hoppers[50] == 18


async def test_silent_before_dispense_raises(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                             cctalk_world: SimWorld) -> None:
    sim50.inject("silent")
    with pytest.raises(HardwareError):
        await hopper50.dispense(2)
    assert cctalk_world.hoppers[50] == 20


async def test_nak_raises_nothing_paid(hopper50: CctalkHopper, sim50: SimCctalkHopper) -> None:
    sim50.inject("nak")
    with pytest.raises(DeviceNak):
        await hopper50.dispense(1)


async def test_device_lost_mid_payout(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                      cctalk_until: CctalkUntil) -> None:
    sim50.coin_interval_s = 0.01
    paid = Paid()
    task = asyncio.create_task(hopper50.dispense(10, on_paid=paid))
    await cctalk_until(lambda: paid.seen and paid.seen[-1] >= 2)
    sim50.inject("silent")
    result = await task
    assert (result.fault, result.certain) == ("device_lost", False)
    assert 2 <= result.paid == paid.seen[-1] <= sim50.reg("paid")


async def test_emergency_stop_with_late_coin(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                             cctalk_until: CctalkUntil,
                                             cctalk_world: SimWorld) -> None:
    sim50.coin_interval_s = 0.01
    sim50.inject("late_coin")
    paid = Paid()
    task = asyncio.create_task(hopper50.dispense(10, on_paid=paid))
    await cctalk_until(lambda: paid.seen and paid.seen[-1] >= 2)
    final = await hopper50.emergency_stop()
    assert final.remaining == 0
    assert final.paid + final.unpaid == 10
    assert "late coin after emergency stop" in sim50.entries("event")
    result = await task
    assert result.paid == final.paid == 20 - cctalk_world.hoppers[50]
    assert result.fault is not None and result.unpaid == 10 - final.paid
    assert len(dispense_frames(sim50)) == 1


async def test_stuck_hopper_is_stopped_by_the_driver(hopper50: CctalkHopper,
                                                     sim50: SimCctalkHopper) -> None:
    sim50.stall_timeout_s = 5.0  # this hopper would wait far longer than the driver
    sim50.inject("empty")
    hopper50.dispense_timeout_s = 0.05
    result = await hopper50.dispense(3)
    assert (result.paid, result.fault) == (0, "timeout")
    assert "06 00 01 ac 4d" in sim50.entries("rx")


async def test_hopper_device_reset_mid_payout(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                              cctalk_world: SimWorld,
                                              cctalk_until: CctalkUntil) -> None:
    sim50.coin_interval_s = 0.01
    paid = Paid()
    task = asyncio.create_task(hopper50.dispense(10, on_paid=paid))
    await cctalk_until(lambda: paid.seen)
    sim50.inject("reset")
    result = await task
    # the reset stopped it; the dispense count (168, kept through a reset) says
    # exactly how many coins left
    assert (result.fault, result.certain) == ("device_reset", True)
    assert 0 < result.paid == FILL_50 - cctalk_world.hoppers[50] < 10


async def test_hopper_reset_mid_payout_is_uncertain_without_a_dispense_count(
        hopper50: CctalkHopper, sim50: SimCctalkHopper, cctalk_world: SimWorld,
        cctalk_until: CctalkUntil) -> None:
    sim50.model = replace(sim50.model, answers=frozenset())  # a Flow that NAKs 168
    await hopper50.start()
    assert not hopper50.has_dispense_count
    sim50.coin_interval_s = 0.01
    paid = Paid()
    task = asyncio.create_task(hopper50.dispense(10, on_paid=paid))
    await cctalk_until(lambda: paid.seen)
    sim50.inject("reset")
    result = await task
    assert (result.fault, result.certain) == ("device_reset", False)
    assert result.paid <= FILL_50 - cctalk_world.hoppers[50]


async def test_dispense_zero_and_negative(hopper50: CctalkHopper) -> None:
    assert (await hopper50.dispense(0)).paid == 0
    with pytest.raises(ValueError):
        await hopper50.dispense(-1)


async def test_refused_dispense_with_a_lost_reply_pays_nothing(
        hopper50: CctalkHopper, sim50: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    # the counter moves on a refusal too; the last payout's figures tell them apart
    assert (await hopper50.dispense(3)).paid == 3
    sim50.security = "zero"  # the hopper now refuses the driver's serial-number key
    sim50.corrupt_replies[0xA7] = 1
    with pytest.raises(DeviceNak):
        await hopper50.dispense(2)
    assert cctalk_world.hoppers[50] == 17 and sim50.reg("counter") == 2
    assert "dispense refused: security bytes" in sim50.entries("event")


async def test_lost_reply_to_a_repeat_of_the_last_payout_is_counted_on_a_flow(
        hopper50: CctalkHopper, sim50: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    # A Flow hopper counts refusals too: when the figures repeat the last payout's,
    # taken and refused look the same; its dispense count (168) read before the
    # dispense tells how many coins left, and the dispense is never sent again.
    assert hopper50.has_dispense_count
    assert (await hopper50.dispense(3)).paid == 3
    sim50.lose_replies[0xA7] = 1
    result = await hopper50.dispense(3)
    assert (result.paid, result.fault, result.certain) == (3, None, True)
    assert cctalk_world.hoppers[50] == 14
    assert len(dispense_frames(sim50)) == 2


async def test_lost_reply_to_a_repeat_of_the_last_payout_is_uncertain_without_a_count(
        hopper50: CctalkHopper, sim50: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    # A Flow-like hopper that answers no 168: the driver says it cannot tell
    # instead of guessing, and never sends the dispense again.
    sim50.model = replace(sim50.model, answers=frozenset())
    await hopper50.start()
    assert (await hopper50.dispense(3)).paid == 3
    sim50.lose_replies[0xA7] = 1
    result = await hopper50.dispense(3)
    assert (result.paid, result.fault, result.certain) == (0, "dispense_unknown", False)
    assert cctalk_world.hoppers[50] == 14
    assert len(dispense_frames(sim50)) == 2


async def test_taken_dispense_with_a_corrupt_reply_is_followed(
        hopper50: CctalkHopper, sim50: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    assert (await hopper50.dispense(3)).paid == 3
    sim50.corrupt_replies[0xA7] = 1
    result = await hopper50.dispense(2)
    assert (result.paid, result.fault, result.certain) == (2, None, True)
    assert cctalk_world.hoppers[50] == 15 and len(dispense_frames(sim50)) == 2


@pytest.mark.parametrize("fault", ["nak", "busy", "bad_checksum"])
async def test_status_refused_mid_payout_ends_the_payout(
        hopper50: CctalkHopper, sim50: SimCctalkHopper, cctalk_until: CctalkUntil,
        fault: str) -> None:
    sim50.coin_interval_s = 0.01
    hopper50.dispense_timeout_s = 0.1
    paid = Paid()
    task = asyncio.create_task(hopper50.dispense(10, on_paid=paid))
    await cctalk_until(lambda: paid.seen and paid.seen[-1] >= 2)
    sim50.inject(fault)
    result = await asyncio.wait_for(task, 5)
    assert result.fault is not None and not result.certain
    assert 2 <= result.paid == paid.seen[-1] <= sim50.reg("paid")


async def test_slow_hopper_pays_once(hopper50: CctalkHopper, sim50: SimCctalkHopper,
                                     cctalk_world: SimWorld) -> None:
    sim50.slow_delay_s = 0.05  # beyond the link's reply timeout: every reply comes late
    sim50.inject("slow")
    try:
        result = await hopper50.dispense(2)
        paid = result.paid
    except HardwareError:
        paid = 0  # raised only when certainly nothing was paid
    assert 20 - cctalk_world.hoppers[50] == paid
    assert len(dispense_frames(sim50)) <= 1
    sim50.inject("clear")
    result = await hopper50.dispense(2)
    assert result.paid == 2 and 20 - cctalk_world.hoppers[50] == paid + 2
