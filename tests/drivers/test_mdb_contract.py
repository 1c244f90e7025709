"""MDB contract tests: the coin-acceptor and hopper contracts of the ccTalk devices, run
on the MDB changer (and the bill validator's setup) on the simulated bus always, and on
a real bus when a technician says where it is.

They use only what a real device does on its own (no fault injection).  Environment
for a real bus (README, "Testing on real devices"): ``VENDING_MDB_PORT`` (e.g.
/dev/serial0), ``VENDING_MDB_INTERFACE`` (qibixx or raw9), ``VENDING_MDB_PAYOUT``
(the coin value, in cents, of which one coin is paid; empty: no payout test) and
``VENDING_MDB_BILLS`` (1: a bill validator is on the bus).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from drivers.base import CoinBatch, CoinEventKind
from drivers.mdb.bills import MdbBillValidator
from drivers.mdb.changer import MdbCoinChanger
from drivers.mdb.changer_parts import ChangerAcceptor, ChangerTube
from drivers.mdb.link import MdbLink
from drivers.mdb.qibixx import QibixxLink
from drivers.mdb.raw9 import Raw9Link
from simulators.mdb.rig import SimMdbRig
from simulators.world import SimWorld

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

REAL_PORT = os.environ.get("VENDING_MDB_PORT", "")
COINS = [5, 10, 20, 50, 100]


@dataclass
class Target:
    name: str
    link: MdbLink
    changer: MdbCoinChanger
    acceptor: ChangerAcceptor
    batches: list[CoinBatch]
    payout_cents: int | None
    bills: bool


@pytest_asyncio.fixture(params=["sim", "real"])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    rig: SimMdbRig | None = None
    if request.param == "real":
        if not REAL_PORT:
            pytest.skip("VENDING_MDB_PORT is not set: no real MDB bus")
        interface = os.environ.get("VENDING_MDB_INTERFACE", "qibixx")
        link: MdbLink = QibixxLink(REAL_PORT) if interface == "qibixx" else Raw9Link(REAL_PORT)
        payout = os.environ.get("VENDING_MDB_PAYOUT", "").strip()
        payout_cents, bills = (int(payout) if payout else None,
                               os.environ.get("VENDING_MDB_BILLS") == "1")
    else:
        world = SimWorld.load_or_create(None, coins=COINS, slots=["A1"], hopper_capacity=50)
        rig = SimMdbRig(world, coins=COINS, changer=True, bills=True, tube_capacity=50,
                        coin_s=0.01)
        await rig.start()
        link = QibixxLink(rig.port)
        payout_cents, bills = 10, True
    await link.start()
    changer = MdbCoinChanger(link, poll_interval_s=0.05)
    acceptor = ChangerAcceptor(changer, coins_cents=COINS)
    batches: list[CoinBatch] = []

    async def handler(batch: CoinBatch) -> None:
        batches.append(batch)
    acceptor.set_handler(handler)
    await acceptor.start()
    assert await changer.wait_ready(20.0), f"changer {changer.state.value}: {changer.detail}"
    yield Target(request.param, link, changer, acceptor, batches, payout_cents, bills)
    await acceptor.set_accepting(False)
    await acceptor.close()
    await link.close()
    if rig is not None:
        await rig.close()


async def test_the_changer_says_what_it_is(target: Target) -> None:
    setup = target.changer.setup_info
    assert setup is not None and setup.level in (2, 3)
    assert target.acceptor.known_coins_cents  # at least one coin type with a value
    assert all(v % 5 == 0 for v in target.acceptor.known_coins_cents)


async def test_coin_types_on_and_off(target: Target) -> None:
    await target.acceptor.set_coins_enabled(target.acceptor.known_coins_cents)
    await target.acceptor.set_accepting(True)
    assert target.acceptor.accepting
    await target.acceptor.set_accepting(False)
    assert not target.acceptor.accepting


async def test_tube_status_is_a_hopper_status(target: Target) -> None:
    for coin in target.changer.coin_values():
        if target.changer.tube_type(coin) is None:
            continue
        status = await ChangerTube(target.changer, coin).status()
        assert 0 <= status.counter <= 255 and status.remaining == 0


async def test_one_coin_paid_is_one_coin_less_in_its_tube(target: Target) -> None:
    coin = target.payout_cents
    if coin is None:
        pytest.skip("VENDING_MDB_PAYOUT is empty: no payout on this bus")
    tube = ChangerTube(target.changer, coin)
    before = await tube.status()
    if before.counter == 0:
        pytest.skip(f"the {coin}c tube is empty")
    result = await tube.dispense(1)
    assert (result.paid, result.certain) == (1, True)
    assert (await tube.status()).counter == before.counter - 1
    kinds = {e.kind for b in target.batches for e in b.events}
    assert CoinEventKind.DEVICE_LOST not in kinds


async def test_the_bill_validator_sets_up_and_enables(target: Target) -> None:
    if not target.bills:
        pytest.skip("VENDING_MDB_BILLS is not 1: no bill validator on this bus")
    validator = MdbBillValidator(target.link, accept_cents=[500, 1000], poll_interval_s=0.05)
    await validator.start()
    try:
        assert await validator.wait_ready(30.0), validator.detail
        assert validator.setup_info is not None and validator.setup_info.bills_cents
        await validator.set_enabled(True)
        assert validator.enabled
        await validator.set_enabled(False)
        assert not validator.enabled
    finally:
        await validator.close()
