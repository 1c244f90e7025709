"""What only some coin acceptor models do, and how the one driver copes.

The simulated models (``simulators/cctalk/acceptor_models.py``): ``generic``
(the specification), ``basic`` (12 positions, no master inhibit, no sorter)
and ``retentive`` (inhibits and old event pairs kept through a reset).  The
tests every model passes are in ``test_cctalk_acceptor.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.acceptor_models import ACCEPTOR_MODELS as DRIVER_MODELS
from drivers.cctalk.link import CctalkLink
from simulators.cctalk import SimCctalkAcceptor, SimCctalkBus
from simulators.cctalk.acceptor_models import ACCEPTOR_MODELS, acceptor_model
from simulators.world import SimWorld
from tests.drivers.conftest import CctalkBatches

pytestmark = pytest.mark.asyncio

COINS = [5, 10, 20, 50, 100]


@dataclass
class Rig:
    world: SimWorld
    sim: SimCctalkAcceptor
    driver: CctalkCoinAcceptor
    batches: CctalkBatches

    def events(self) -> list[tuple[str, int, int]]:
        return [(e.kind.value, e.value_cents, e.code)
                for b in self.batches.batches for e in b.events]

    def headers_sent(self, header: str) -> list[str]:
        return [f for f in self.sim.entries("rx") if f.split()[3] == header]


async def make_rig(model: str, *, coin_ids: list[str] | None = None,
                   hopper_capacity: int = 200) -> AsyncIterator[Rig]:
    world = SimWorld.load_or_create(None, coins=COINS, slots=[], hopper_fill=20,
                                    hopper_capacity=hopper_capacity)
    sim = SimCctalkAcceptor(world, model=model, coin_ids=coin_ids, reply_delay_s=0.001)
    bus = SimCctalkBus([sim])
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.03, retries=2)
    await link.start()
    batches = CctalkBatches()
    # polled by hand (poll_once) so that a reset can fall between two polls
    driver = CctalkCoinAcceptor(link, poll_interval_s=60, lost_poll_interval_s=60)
    driver.set_handler(batches)
    await driver.start()
    try:
        yield Rig(world, sim, driver, batches)
    finally:
        await driver.close()
        await link.close()
        await bus.close()


@pytest_asyncio.fixture(params=sorted(ACCEPTOR_MODELS))
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for made in make_rig(request.param):
        yield made


async def test_the_config_and_the_simulator_know_the_same_models() -> None:
    assert set(DRIVER_MODELS) == set(ACCEPTOR_MODELS)
    with pytest.raises(ValueError, match="known: basic, generic, retentive"):
        acceptor_model("sr9")


async def test_positions_the_device_has_not_are_unused() -> None:
    ids = ["EU005A", "", "EU010A", *[""] * 8, "EU100A"]  # 12 positions, blanks between
    async for rig in make_rig("basic", coin_ids=ids):
        assert rig.driver.coin_positions == {1: 5, 3: 10, 12: 100}
        naks = [f for f in rig.sim.entries("rx") if f.startswith("02 01 01 b8 0d")]
        assert naks and rig.sim.entries("tx")  # position 13 asked, and NAKed
    with pytest.raises(ValueError, match="12 coin positions"):
        SimCctalkAcceptor(SimWorld.load_or_create(None, coins=COINS, slots=[]), model="basic",
                          coin_ids=["EU005A"] * 13)


async def test_without_master_inhibit_coins_are_refused_through_their_inhibits() -> None:
    async for rig in make_rig("basic"):
        sim, driver = rig.sim, rig.driver
        assert sim.inhibit_mask == 0
        await driver.set_accepting(True)
        assert sim.inhibit_mask == 0x1F and sim.insert(20) == "accepted"
        await driver.set_coins_enabled([10, 50])
        assert sim.inhibit_mask == 0b01010
        await driver.set_accepting(False)
        assert rig.headers_sent("e7")[-1] == "02 02 01 e7 00 00 14"
        assert sim.insert(10) == "inhibited"
        await driver.set_coins_enabled([10])  # remembered, not sent as an opening
        assert sim.inhibit_mask == 0
        await driver.set_accepting(True)
        assert sim.inhibit_mask == 0b00010 and sim.insert(10) == "accepted"
        assert len(rig.headers_sent("e4")) == 1  # asked once at start-up, never again
        await driver.poll_once()
        assert rig.batches.credits() == [20, 10]


async def test_the_sorter_path_is_reported_and_never_taken_for_an_event(rig: Rig) -> None:
    await rig.driver.set_accepting(True)
    rig.world.hoppers[50] = rig.world.hopper_capacity  # full: the next 50c goes to the cashbox
    assert rig.sim.insert(20) == "accepted" and rig.sim.insert(50) == "accepted"
    await rig.driver.poll_once()
    assert rig.events() == [("credit", 20, rig.sim.model.sorter_paths[0]),
                            ("credit", 50, rig.sim.model.sorter_paths[1])]


async def test_a_reset_between_two_polls(rig: Rig) -> None:
    await rig.driver.set_accepting(True)
    for coin in (5, 10, 20):
        rig.sim.insert(coin)
    await rig.driver.poll_once()
    assert rig.batches.credits() == [5, 10, 20]
    rig.sim.inject("reset")  # and before the next poll a coin comes
    expected = "accepted" if rig.sim.model.keeps_inhibits_at_reset else "inhibited"
    assert rig.sim.insert(50) == expected and rig.sim.counter == 1
    await rig.driver.poll_once()
    kinds = [kind for kind, _, _ in rig.events()[3:]]
    if rig.sim.model.clears_buffer_at_reset:  # null pairs behind the new event: a reset
        assert kinds == ["device_reset", "inhibited"]
    else:  # old pairs behind it: a wrap cannot be ruled out, only the newest pair is new
        assert kinds == ["events_lost", "credit"]
        assert rig.events()[3][2] == 252  # (1 - 3) mod 255 events, one of them read
    assert rig.batches.credits() in ([5, 10, 20], [5, 10, 20, 50])  # never an old coin again
    await rig.driver.poll_once()
    assert rig.sim.accepts(50)  # inhibits sent again
    assert rig.sim.insert(50) == "accepted"
    await rig.driver.poll_once()
    assert rig.batches.credits()[-1] == 50 and rig.batches.credits().count(20) == 1


async def test_old_pairs_after_a_power_up_credit_nothing() -> None:
    async for rig in make_rig("retentive"):
        await rig.driver.set_accepting(True)
        rig.sim.insert(100)
        await rig.driver.poll_once()
        stored = rig.driver.last_counter
        rig.sim.inject("reset")
        assert rig.sim.counter == 0 and rig.sim.buffer()[1:3] == bytes((5, 1))  # kept
        await rig.driver.close()
        for resume in (stored, None):  # a controller that stored its counter, or none
            batches = CctalkBatches()
            again = CctalkCoinAcceptor(rig.driver.link, poll_interval_s=60)
            again.set_handler(batches)
            await again.start(resume_counter=resume)
            await again.poll_once()
            assert batches.credits() == []
            assert batches.kinds() == (["device_reset"] if resume else [])
            await again.set_accepting(True)
            rig.sim.insert(20)
            await again.poll_once()
            assert batches.credits() == [20]
            await again.close()
            rig.sim.inject("reset")


async def test_a_reset_that_brings_the_counter_back_where_it_was(rig: Rig) -> None:
    await rig.driver.set_accepting(True)
    rig.sim.insert(20)
    await rig.driver.poll_once()
    rig.sim.inject("reset")
    taken = rig.sim.insert(50) == "accepted"  # the counter is 1 again, over another pair
    assert taken == rig.sim.model.keeps_inhibits_at_reset
    await rig.driver.poll_once()
    assert [kind for kind, _, _ in rig.events()] == [
        "credit", "device_reset", "credit" if taken else "inhibited"]
    assert rig.batches.credits() == ([20, 50] if taken else [20])
