"""The MDB changer driver against the simulated changer behind the simulated board:
coins in with their route, COIN TYPE as the inhibit, DISPENSE read back from the
tubes, and the payout traps (short pay, a reset mid-payout, a jammed tube)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from drivers.base import CoinBatch, CoinEventKind
from drivers.errors import HardwareError
from drivers.mdb.changer import MdbCoinChanger
from drivers.mdb.changer_parts import ChangerAcceptor, ChangerTube
from drivers.mdb.device import DeviceState
from drivers.mdb.qibixx import QibixxLink
from simulators.mdb.board import SimQibixxBoard
from simulators.mdb.changer import SimMdbChanger
from simulators.world import SimWorld

COINS = [5, 10, 20, 50, 100]


async def until(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@dataclass
class Rig:
    sim: SimMdbChanger
    changer: MdbCoinChanger
    acceptor: ChangerAcceptor
    batches: list[CoinBatch]

    def tube(self, coin: int) -> ChangerTube:
        return ChangerTube(self.changer, coin)

    def credits(self) -> list[tuple[int, str]]:
        return [(e.value_cents, e.route) for b in self.batches for e in b.events
                if e.kind is CoinEventKind.CREDIT]


@pytest_asyncio.fixture
async def rig() -> AsyncIterator[Rig]:
    world = SimWorld.load_or_create(None, coins=COINS, slots=["A1"], hopper_capacity=50)
    sim = SimMdbChanger(world, coins=COINS, coin_s=0.01)
    board = SimQibixxBoard()
    board.add(sim)
    await board.start()
    link = QibixxLink(board.port)
    await link.start()
    changer = MdbCoinChanger(link, poll_interval_s=0.02, reset_retry_s=0.3, coin_s=0.5,
                             non_response_s=0.3, start_grace_s=0.1)
    acceptor = ChangerAcceptor(changer, coins_cents=COINS)
    batches: list[CoinBatch] = []

    async def handler(batch: CoinBatch) -> None:
        batches.append(batch)
    acceptor.set_handler(handler)
    await acceptor.start()
    assert await changer.wait_ready(3.0)
    yield Rig(sim, changer, acceptor, batches)
    await acceptor.close()
    await link.close()
    await board.close()


@pytest.mark.asyncio
async def test_setup_identity_and_tubes(rig: Rig) -> None:
    assert rig.changer.setup_info is not None and rig.changer.setup_info.level == 3
    assert rig.changer.identity.manufacturer == "SIM"
    assert rig.acceptor.known_coins_cents == frozenset(COINS)
    assert (await rig.tube(50).status()).counter == 20
    await until(lambda: [(e.value_cents, e.count) for b in rig.batches for e in b.events
                         if e.kind is CoinEventKind.TUBE_COUNT] == [(c, 20) for c in COINS])


@pytest.mark.asyncio
async def test_coin_type_is_the_inhibit_and_routes_come_from_the_changer(rig: Rig) -> None:
    assert rig.sim.insert(50) == "rejected"  # every coin off until enabled
    await rig.acceptor.set_coins_enabled({50, 100})
    await rig.acceptor.set_accepting(True)
    assert rig.sim.insert(10) == "rejected"
    assert rig.sim.insert(50) == "accepted"
    await until(lambda: rig.credits() == [(50, "tube")])
    rig.sim.world.hoppers[100] = 50  # a full tube: the changer routes to the cashbox
    assert rig.sim.insert(100) == "accepted"
    await until(lambda: rig.credits() == [(50, "tube"), (100, "cashbox")])
    await rig.acceptor.set_accepting(False)
    assert rig.sim.insert(50) == "rejected"


@pytest.mark.asyncio
async def test_dispense_is_read_back_from_the_tubes(rig: Rig) -> None:
    seen: list[int] = []

    async def on_paid(total: int) -> None:
        seen.append(total)
    result = await rig.tube(10).dispense(3, on_paid=on_paid)
    assert (result.paid, result.fault, result.certain) == (3, None, True)
    assert rig.sim.world.cup == [10, 10, 10] and seen[-1] == 3
    result = await rig.tube(5).dispense(17)  # two DISPENSE commands (15 + 2)
    assert result.paid == 17 and rig.sim.world.hoppers[5] == 3


@pytest.mark.asyncio
async def test_short_pay_is_counted_from_the_tubes(rig: Rig) -> None:
    rig.sim.inject("short_pay")
    result = await rig.tube(20).dispense(3)
    assert (result.paid, result.fault, result.certain) == (2, "short pay", True)
    assert rig.sim.world.cup == [20, 20]


@pytest.mark.asyncio
async def test_a_jammed_tube_pays_nothing_and_says_so(rig: Rig) -> None:
    rig.sim.inject_tube(50, "jam")
    with pytest.raises(HardwareError):  # TUBE STATUS says full-and-zero: nothing sent
        await rig.tube(50).dispense(2)
    assert rig.sim.world.cup == []


@pytest.mark.asyncio
async def test_a_reset_mid_payout_leaves_the_amount_uncertain_never_resent(rig: Rig) -> None:
    rig.sim.coin_s = 0.05
    task = asyncio.create_task(rig.tube(10).dispense(5))
    await until(lambda: len(rig.sim.world.cup) >= 2)
    rig.sim.inject("reset")
    result = await task
    assert not result.certain and "reset" in (result.fault or "")
    assert result.paid == len(rig.sim.world.cup) < 5  # what the tubes show, nothing resent
    await asyncio.sleep(0.2)
    assert len(rig.sim.world.cup) == result.paid
    assert rig.changer.state is DeviceState.READY


@pytest.mark.asyncio
async def test_silence_is_a_lost_changer_that_comes_back(rig: Rig) -> None:
    rig.sim.inject("silent")
    await until(lambda: rig.changer.state is DeviceState.OFFLINE)
    with pytest.raises(HardwareError):
        await rig.tube(10).status()
    rig.sim.inject("clear")
    await until(lambda: rig.changer.state is DeviceState.READY)

    def kinds() -> list[CoinEventKind]:
        return [e.kind for b in rig.batches for e in b.events]
    await until(lambda: CoinEventKind.DEVICE_BACK in kinds())
    assert kinds().index(CoinEventKind.DEVICE_LOST) < kinds().index(CoinEventKind.DEVICE_BACK)


@pytest.mark.asyncio
async def test_events_a_handler_refused_are_offered_again(rig: Rig) -> None:
    refuse = [True]

    async def flaky(batch: CoinBatch) -> None:
        if refuse[0]:
            refuse[0] = False
            raise RuntimeError("store busy")
        rig.batches.append(batch)
    rig.acceptor.set_handler(flaky)
    await rig.acceptor.set_coins_enabled({20})
    await rig.acceptor.set_accepting(True)
    assert rig.sim.insert(20) == "accepted"
    await until(lambda: rig.credits() == [(20, "tube")])
