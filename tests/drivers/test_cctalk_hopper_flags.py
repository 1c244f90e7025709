"""The hopper's power-up and opto flags, and the resets the driver sends for them.

A hopper fresh from power-up says so (test hopper bit 6) until a reset
(header 1); an opto flag (bits 3 to 5) stays set until a reset and the
hopper refuses to pay while it is.  The driver resets the hopper at start-up
and before a payout when a flag asks for it, and refuses the payout (nothing
sent) when the opto flag outlives the reset.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from drivers.cctalk.hopper import CctalkHopper
from drivers.cctalk.hopper_flags import FLAG_OPTO_BLOCKED_IDLE, FLAG_POWER_UP
from drivers.cctalk.link import CctalkLink
from drivers.errors import DeviceNak, HopperFault
from simulators.cctalk import SimCctalkBus, SimCctalkHopper
from simulators.world import SimWorld

pytestmark = pytest.mark.asyncio
RESET = "06 00 01 01 f8"  # reset device (1) to the 50c hopper at address 6


def hopper(link: CctalkLink) -> CctalkHopper:
    return CctalkHopper(link, address=6, coin_cents=50, status_poll_interval_s=0.003,
                        dispense_timeout_s=0.5, late_coin_window_s=0.02, reset_settle_s=0.01)


@pytest.fixture
def sim(cctalk_bus: SimCctalkBus) -> SimCctalkHopper:
    return cctalk_bus.hoppers[50]


@pytest_asyncio.fixture
async def driver(cctalk_link: CctalkLink) -> AsyncIterator[CctalkHopper]:
    d = hopper(cctalk_link)
    await d.start()
    yield d
    await d.close()


def resets(sim: SimCctalkHopper) -> int:
    return sim.entries("rx").count(RESET)


async def test_a_fresh_hopper_is_reset_at_start_up(cctalk_link: CctalkLink,
                                                   sim: SimCctalkHopper) -> None:
    assert sim.reg("flags") & FLAG_POWER_UP  # fresh from power-up
    d = hopper(cctalk_link)
    await d.start()
    assert resets(sim) == 1 and not sim.reg("flags") & FLAG_POWER_UP
    await d.start()  # started again (brought back in): no flag, no reset
    assert resets(sim) == 1


async def test_a_power_cut_of_the_hopper_alone_is_reset_before_the_next_payout(
        driver: CctalkHopper, sim: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    sim.inject("reset")  # its power came back: the power-up flag again
    assert sim.reg("flags") & FLAG_POWER_UP
    await driver.prepare_payout()
    assert resets(sim) == 2 and not sim.reg("flags") & FLAG_POWER_UP
    assert (await driver.dispense(2)).paid == 2 and cctalk_world.hoppers[50] == 18


async def test_an_opto_flag_is_latched_and_reset_before_the_next_payout(
        driver: CctalkHopper, sim: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    sim.inject("opto")
    sim.clear()  # the coin exit is clear again; the flag stays until a reset
    assert sim.reg("flags") & FLAG_OPTO_BLOCKED_IDLE
    before = resets(sim)
    await driver.prepare_payout()
    assert resets(sim) == before + 1 and not sim.reg("flags") & FLAG_OPTO_BLOCKED_IDLE
    assert (await driver.dispense(1)).paid == 1 and cctalk_world.hoppers[50] == 19


async def test_a_hopper_with_an_opto_flag_refuses_to_pay(driver: CctalkHopper,
                                                         sim: SimCctalkHopper,
                                                         cctalk_world: SimWorld) -> None:
    sim.inject("opto")
    sim.clear()
    with pytest.raises(DeviceNak):  # without the reset first, the hopper refuses: NAK
        await driver.dispense(1)
    assert "dispense refused: opto flags set: a reset is needed first" in sim.entries("event")
    assert cctalk_world.hoppers[50] == 20


async def test_a_standing_opto_fault_is_refused_before_any_dispense(
        driver: CctalkHopper, sim: SimCctalkHopper, cctalk_world: SimWorld) -> None:
    sim.inject("opto")  # still blocked: the reset sets the flag again
    with pytest.raises(HopperFault, match="opto path blocked"):
        await driver.prepare_payout()
    assert not [f for f in sim.entries("rx") if f.split()[3] == "a7"]
    sim.clear()
    await driver.prepare_payout()
    assert (await driver.dispense(1)).paid == 1 and cctalk_world.hoppers[50] == 19
