"""PulseCoinAcceptor against SimPulseAcceptor on mock pins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from gpiozero.pins.mock import MockFactory

from drivers.base import CoinBatch, CoinEvent, CoinEventKind
from drivers.gpio.pulse_acceptor import PulseCoinAcceptor
from simulators.gpio.pins import sim_pin
from simulators.gpio.pulse_acceptor import SimPulseAcceptor
from simulators.world import SimWorld

PULSE, INHIBIT = 17, 27

pytestmark = pytest.mark.asyncio


@dataclass
class Rig:
    world: SimWorld
    sim: SimPulseAcceptor
    acceptor: PulseCoinAcceptor
    batches: list[CoinBatch] = field(default_factory=list)

    def events(self) -> list[CoinEvent]:
        return [e for b in self.batches for e in b.events]

    def credits(self) -> list[int]:
        return [e.value_cents for e in self.events() if e.kind is CoinEventKind.CREDIT]

    async def settle(self) -> None:
        """Wait past the train gap so the last train was handed over."""
        await asyncio.sleep(self.acceptor.train_gap_s * 2)


@pytest_asyncio.fixture
async def rig(pins: MockFactory) -> AsyncIterator[Rig]:
    world = SimWorld(hoppers={5: 0, 10: 0, 20: 0, 50: 0, 100: 0}, hopper_capacity=2,
                     cashbox={5: 0, 10: 0, 20: 0, 50: 0, 100: 0})
    sim = SimPulseAcceptor(pins, world, pulse_pin=PULSE, inhibit_pin=INHIBIT,
                           pulse_s=0.012, space_s=0.012)
    acceptor = PulseCoinAcceptor(pulse_pin=PULSE, inhibit_pin=INHIBIT, pin_factory=pins,
                                 pulse_min_s=0.005, pulse_max_s=0.05, train_gap_s=0.05,
                                 retry_s=0.02)
    r = Rig(world, sim, acceptor)

    async def handler(batch: CoinBatch) -> None:
        r.batches.append(batch)

    acceptor.set_handler(handler)
    await sim.start()
    await acceptor.start()
    await acceptor.set_accepting(True)
    try:
        yield r
    finally:
        await acceptor.close()
        await sim.close()


async def test_starts_refusing(pins: MockFactory) -> None:
    acceptor = PulseCoinAcceptor(pulse_pin=PULSE, inhibit_pin=INHIBIT, pin_factory=pins)
    await acceptor.start()
    try:
        assert not acceptor.accepting
        assert sim_pin(pins, INHIBIT).output_level is False
        assert acceptor.known_coins_cents == {5, 10, 20, 50, 100}
    finally:
        await acceptor.close()
    assert sim_pin(pins, INHIBIT).output_level is None


async def test_each_coin_credits_its_value(rig: Rig) -> None:
    for coin in (5, 10, 20, 50, 100):
        assert await rig.sim.insert(coin) == "hopper"
        await rig.settle()
    assert rig.credits() == [5, 10, 20, 50, 100]
    assert all(b.counter is None for b in rig.batches)
    assert rig.world.hoppers == {5: 1, 10: 1, 20: 1, 50: 1, 100: 1}


async def test_merged_trains_credit_the_total(rig: Rig) -> None:
    await rig.sim.insert_merged(50, 20)
    await rig.settle()
    await rig.sim.insert_merged(5, 10, 100)
    await rig.settle()
    assert len(rig.batches) == 2  # one batch per train
    assert rig.credits() == [50, 20, 100, 10, 5]  # greedy split, totals exact
    assert [sum(e.value_cents for e in b.events) for b in rig.batches] == [70, 115]


@pytest.mark.parametrize(("width_s", "kind"), [(0.0, CoinEventKind.SENSOR),
                                               (0.07, CoinEventKind.ALARM)])
async def test_pulse_outside_the_window_never_credits(
        rig: Rig, width_s: float, kind: CoinEventKind) -> None:
    await rig.sim.pulse(width_s)
    await rig.settle()
    assert rig.credits() == []
    assert [e.kind for e in rig.events()] == [kind]


async def test_noise_inside_a_train_is_ignored(rig: Rig) -> None:
    await rig.sim.pulse(0.012)
    await rig.sim.pulse(0.0)
    await rig.sim.pulse(0.012)
    await rig.settle()
    assert rig.credits() == [10]
    assert [e.kind for e in rig.events()].count(CoinEventKind.SENSOR) == 1


async def test_stuck_line_raises_one_alarm(rig: Rig) -> None:
    await rig.sim.pulse(0.25)
    await rig.settle()
    assert rig.credits() == []
    assert [e.kind for e in rig.events()] == [CoinEventKind.ALARM]


async def test_inhibited_acceptor_returns_the_coin(rig: Rig) -> None:
    await rig.acceptor.set_accepting(False)
    assert not rig.acceptor.accepting
    assert await rig.sim.insert(50) == "cup"
    await rig.settle()
    assert rig.credits() == []
    assert rig.world.cup == [50]


async def test_coin_enable_is_all_or_nothing(rig: Rig) -> None:
    await rig.acceptor.set_coins_enabled([])
    assert not rig.acceptor.accepting
    await rig.acceptor.set_coins_enabled([10])
    assert rig.acceptor.accepting  # the other coins too: the device cannot tell
    await rig.sim.insert(20)
    await rig.settle()
    assert rig.credits() == [20]


async def test_full_hopper_routes_to_cashbox(rig: Rig) -> None:
    places = [await rig.sim.insert(5) for _ in range(3)]
    assert places == ["hopper", "hopper", "cashbox"]


async def test_failing_handler_gets_the_same_batch_again(rig: Rig) -> None:
    failures = [RuntimeError("store busy")]

    async def flaky(batch: CoinBatch) -> None:
        if failures:
            raise failures.pop()
        rig.batches.append(batch)

    rig.acceptor.set_handler(flaky)
    await rig.sim.insert(20)
    await rig.settle()
    await asyncio.sleep(0.05)
    assert rig.credits() == [20]
