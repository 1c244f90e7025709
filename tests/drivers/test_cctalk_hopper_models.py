"""The hopper driver against every simulated hopper model (flow, sch2, sch1, plain).

The money rules of a dispense, per docs/hardware.md: a NAK or BUSY is a refusal
and pays nothing, whatever the event counter does; only a missing or corrupt
reply is ambiguous, and then the dispense is never sent twice and never
booked as more than the coins that left the hopper.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from drivers.base import PayoutResult
from drivers.cctalk.frame import Header
from drivers.cctalk.hopper import HOPPER_MODELS, CctalkHopper
from drivers.cctalk.link import CctalkLink
from drivers.errors import DeviceBusy, DeviceNak, HardwareError
from simulators.cctalk import SimCctalkHopper, build_cctalk_bus
from simulators.cctalk.hopper_models import HOPPER_MODELS as SIM_MODELS
from simulators.world import SimWorld

pytestmark = pytest.mark.asyncio

MODELS = sorted(SIM_MODELS)
FILL = 20


@dataclass
class Rig:
    model: str
    world: SimWorld
    sim: SimCctalkHopper
    driver: CctalkHopper

    def coins_out(self) -> int:
        return FILL - self.world.hoppers[50]

    def dispenses_sent(self) -> int:
        return sum(1 for f in self.sim.entries("rx") if f.split()[3] == "a7")


@pytest_asyncio.fixture(params=MODELS)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    model: str = request.param
    world = SimWorld.load_or_create(None, coins=[50], slots=["A1"], hopper_fill=FILL)
    bus = build_cctalk_bus(world, coins=[50], acceptor_address=None, hopper_model=model,
                           reply_delay_s=0.001, coin_interval_s=0.004)
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.03, retries=2)
    await link.start()
    facts = HOPPER_MODELS[model]
    driver = CctalkHopper(link, address=6, coin_cents=50, security=facts.security,
                          counter_moves_on_refusal=facts.counter_moves_on_refusal,
                          status_poll_interval_s=0.003, dispense_timeout_s=0.5,
                          late_coin_window_s=0.02)
    await driver.start()
    try:
        yield Rig(model, world, bus.hoppers[50], driver)
    finally:
        await driver.close()
        await link.close()
        await bus.close()


def counts(rig: Rig) -> bool:
    """Whether the model keeps a lifetime dispense count (168)."""
    return Header.DISPENSE_COUNT in SIM_MODELS[rig.model].answers


async def paid_or_nothing(rig: Rig, count: int) -> PayoutResult | None:
    """The result, or None when the driver raised (certain nothing was paid)."""
    try:
        return await rig.driver.dispense(count)
    except HardwareError:
        return None


async def test_pays_exactly(rig: Rig) -> None:
    result = await rig.driver.dispense(3)
    assert (result.paid, result.fault, result.certain) == (3, None, True)
    assert rig.coins_out() == 3 and rig.world.cup == [50, 50, 50]
    assert rig.dispenses_sent() == 1


@pytest.mark.parametrize("previous", [0, 2, 3])
async def test_refused_dispense_is_never_paid(rig: Rig, previous: int) -> None:
    # previous == 3: the last payout had the same count, the case that was booked as paid
    if previous:
        assert (await rig.driver.dispense(previous)).paid == previous
    counter = rig.sim.reg("counter")
    rig.sim.inject("refuse")
    with pytest.raises(DeviceNak):
        await rig.driver.dispense(3)
    assert rig.coins_out() == previous
    moved = rig.sim.reg("counter") != counter
    assert moved == SIM_MODELS[rig.model].counter_on_refusal
    rig.sim.inject("clear")
    assert (await rig.driver.dispense(3)).paid == 3
    assert rig.coins_out() == previous + 3


@pytest.mark.parametrize("fault", ["nak", "busy"])
async def test_nak_or_busy_to_the_dispense_pays_nothing(rig: Rig, fault: str) -> None:
    assert (await rig.driver.dispense(3)).paid == 3
    rig.sim.inject(fault)
    with pytest.raises(DeviceBusy if fault == "busy" else DeviceNak):
        await rig.driver.dispense(3)
    rig.sim.inject("clear")
    assert rig.coins_out() == 3


@pytest.mark.parametrize("previous", [0, 2, 3])
@pytest.mark.parametrize("damage", ["lose_replies", "corrupt_replies"])
async def test_lost_reply_is_never_paid_twice(rig: Rig, previous: int, damage: str) -> None:
    if previous:
        assert (await rig.driver.dispense(previous)).paid == previous
    getattr(rig.sim, damage)[0xA7] = 1
    result = await paid_or_nothing(rig, 3)
    assert rig.coins_out() == previous + 3  # the hopper took it, once
    assert rig.dispenses_sent() == (2 if previous else 1)
    assert result is not None
    if result.certain:
        assert (result.paid, result.fault) == (3, None)
    else:  # only a Flow after the same count: said uncertain, never more than paid
        assert (rig.model, previous, result.paid) == ("flow", 3, 0)


@pytest.mark.parametrize("previous", [0, 2, 3])
async def test_refusal_with_a_lost_reply_pays_nothing(rig: Rig, previous: int) -> None:
    if previous:
        assert (await rig.driver.dispense(previous)).paid == previous
    rig.sim.inject("refuse")
    rig.sim.lose_replies[0xA7] = 1
    result = await paid_or_nothing(rig, 3)
    assert rig.coins_out() == previous
    # a hopper that keeps a dispense count (168) tells that nothing left
    assert result is None or (result.paid, result.certain) == (0, counts(rig))


async def test_lost_request_is_sent_again_and_paid_once(rig: Rig) -> None:
    rig.sim.lose_requests[0xA7] = 1
    result = await rig.driver.dispense(2)
    assert (result.paid, result.fault) == (2, None)
    assert rig.coins_out() == 2 and len(rig.sim.entries("lost")) == 1


async def test_empty_after_a_self_cleared_jam_is_empty_not_jam(rig: Rig) -> None:
    rig.sim.inject("self_clear_jam")
    assert (await rig.driver.dispense(2)).paid == 2
    assert (await rig.driver.test_flags())[0] & 0x04  # motor reversed, latched
    rig.world.set_hopper(50, 0)
    result = await rig.driver.dispense(1)
    assert (result.paid, result.fault) == (0, "empty")


async def test_test_hopper_reply_length_is_the_models(rig: Rig) -> None:
    flags = await rig.driver.test_flags()
    assert len(flags) == SIM_MODELS[rig.model].test_reply_len


async def test_status_is_polled_no_faster_than_every_100_ms(rig: Rig) -> None:
    driver = CctalkHopper(rig.driver.link, address=6, coin_cents=50,
                          security=rig.driver.security,
                          counter_moves_on_refusal=rig.driver.counter_moves_on_refusal,
                          late_coin_window_s=0.0)
    await driver.start()
    rig.sim.coin_interval_s = 0.06
    start = len(rig.sim.log)
    assert (await driver.dispense(3)).paid == 3
    times = [t for t, d, what in rig.sim.log[start:] if d == "rx" and what.split()[3] == "a6"]
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]  # after the check before
    assert gaps and min(gaps) >= 0.095


async def test_a_reset_after_a_lost_reply_is_uncertain_and_never_resent(rig: Rig) -> None:
    assert (await rig.driver.dispense(1)).paid == 1  # the counter is off 0
    rig.sim.lose_replies[0xA7] = 1
    rig.sim.coin_interval_s = 0.5  # the reset comes before the first coin
    task = asyncio.create_task(rig.driver.dispense(3))
    for _ in range(500):
        if rig.dispenses_sent() == 2:
            break
        await asyncio.sleep(0.002)
    rig.sim.inject("reset")
    result = await task
    if counts(rig):  # the dispense count (168) survives the reset: nothing left, for sure
        assert (result.paid, result.fault, result.certain) == (0, "device_reset", True)
    else:
        assert (result.paid, result.fault, result.certain) == (0, "device_reset", False)
    assert rig.dispenses_sent() == 2 and rig.coins_out() == 1
