"""The real ccTalk coin acceptor driver against every simulated acceptor model over a pty.

Each test runs on every model of ``simulators/cctalk/acceptor_models.py``;
what only some models do is tested in ``test_cctalk_acceptor_models.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from drivers.base import CoinEventKind
from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.frame import encode
from drivers.cctalk.link import CctalkLink
from simulators.cctalk import SimCctalkAcceptor, SimCctalkBus, build_cctalk_bus
from simulators.cctalk.acceptor_models import ACCEPTOR_MODELS
from simulators.world import SimWorld

pytestmark = pytest.mark.asyncio

CctalkUntil = Callable[..., Awaitable[None]]
Batches = Any  # the conftest's CctalkBatches recorder
COINS = (5, 10, 20, 50, 100)


@pytest_asyncio.fixture(params=sorted(ACCEPTOR_MODELS))
async def cctalk_bus(request: pytest.FixtureRequest,
                     cctalk_world: SimWorld) -> AsyncIterator[SimCctalkBus]:
    """The conftest's bus, once per acceptor model."""
    bus = build_cctalk_bus(cctalk_world, acceptor_model=request.param, reply_delay_s=0.001,
                           coin_interval_s=0.005)
    await bus.start()
    yield bus
    await bus.close()


def make_acceptor(link: CctalkLink, batches: Batches, **options: Any) -> CctalkCoinAcceptor:
    acceptor = CctalkCoinAcceptor(link, poll_interval_s=0.005, lost_poll_interval_s=0.02,
                                  **options)
    acceptor.set_handler(batches)
    return acceptor


@pytest_asyncio.fixture
async def acceptor(cctalk_link: CctalkLink,
                   cctalk_batches: Batches) -> AsyncIterator[CctalkCoinAcceptor]:
    driver = make_acceptor(cctalk_link, cctalk_batches)
    await driver.start()
    yield driver
    await driver.close()


@pytest.fixture
def sim(cctalk_bus: SimCctalkBus) -> SimCctalkAcceptor:
    assert cctalk_bus.acceptor is not None
    return cctalk_bus.acceptor


def frames_with_header(device: SimCctalkAcceptor, header: str) -> list[str]:
    return [f for f in device.entries("rx") if f.split()[3] == header]


async def test_identification_and_safe_start(acceptor: CctalkCoinAcceptor,
                                             sim: SimCctalkAcceptor) -> None:
    assert acceptor.coin_positions == {1: 5, 2: 10, 3: 20, 4: 50, 5: 100}
    assert acceptor.known_coins_cents == {5, 10, 20, 50, 100}
    assert not acceptor.accepting
    assert not any(sim.accepts(coin) for coin in COINS)
    rx = sim.entries("rx")
    # simple poll, then identity as hosts ask it: 246, 245, 244, 242, 241, 4, 192
    identity = [encode(2, 1, h).hex(" ") for h in (246, 245, 244, 242, 241, 4, 192)]
    assert rx[:9] == ["02 00 01 fe ff", *identity, "02 01 01 b8 01 43"]
    assert identity[1] == "02 00 01 f5 08"  # the equipment category request of docs/hardware.md
    assert acceptor.identity is not None and acceptor.identity.category == "Coin Acceptor"
    assert acceptor.identity.serial_number == str(int.from_bytes(sim.serial_number, "little"))
    assert "02 01 01 e4 00 18" in rx  # master inhibit: accept nothing
    if sim.model.master_inhibit:
        assert sim.inhibit_mask == 0x1F and not sim.master_enabled
        assert "02 02 01 e7 1f 00 f5" in rx
    else:  # refused through the coin inhibits
        assert sim.inhibit_mask == 0 and rx[-1] == "02 02 01 e7 00 00 14"


async def test_coin_ids_in_any_order_and_config(cctalk_world: SimWorld,
                                                cctalk_batches: Batches) -> None:
    bus = SimCctalkBus()
    bus.add(SimCctalkAcceptor(cctalk_world, coin_ids=["EU100A", "", "EU005A", "XX1K0A"]))
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.03)
    await link.start()
    driver = make_acceptor(link, cctalk_batches, coin_map={"XX1K0A": 20})
    try:
        await driver.start()
        assert driver.coin_positions == {1: 100, 3: 5, 4: 20}
        await driver.set_coins_enabled([5, 20])
        assert bus.acceptor is not None and bus.acceptor.inhibit_mask == 0b1100
    finally:
        await driver.close()
        await link.close()
        await bus.close()


async def test_coin_credit_with_counter(acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor,
                                        cctalk_batches: Batches, cctalk_until: CctalkUntil,
                                        cctalk_world: SimWorld) -> None:
    await acceptor.set_accepting(True)
    assert sim.accepts(100)
    if sim.model.master_inhibit:
        assert frames_with_header(sim, "e4")[-1] == "02 01 01 e4 01 17"
    assert sim.insert(100) == "accepted"
    await cctalk_until(lambda: cctalk_batches.batches)
    batch = cctalk_batches.batches[0]
    assert batch.counter == 1
    assert [(e.kind, e.value_cents, e.position) for e in batch.events] == [
        (CoinEventKind.CREDIT, 100, 5)]
    assert cctalk_world.hoppers[100] == 21
    sim.insert(5)
    sim.insert(50)
    await cctalk_until(lambda: len(cctalk_batches.credits()) == 3)
    assert cctalk_batches.credits() == [100, 5, 50]  # oldest first
    assert cctalk_batches.batches[-1].counter == 3
    assert acceptor.last_counter == 3


async def test_counter_wraps_from_255_to_1(cctalk_bus: SimCctalkBus, sim: SimCctalkAcceptor,
                                           cctalk_link: CctalkLink, cctalk_batches: Batches,
                                           cctalk_until: CctalkUntil) -> None:
    sim.set_counter(254)
    driver = make_acceptor(cctalk_link, cctalk_batches)
    await driver.start()
    try:
        await driver.set_accepting(True)
        for coin in (10, 20, 50):
            sim.insert(coin)
            await cctalk_until(lambda: driver.last_counter == sim.counter)
        assert [b.counter for b in cctalk_batches.batches] == [255, 1, 2]
        assert cctalk_batches.credits() == [10, 20, 50]
        assert "events_lost" not in cctalk_batches.kinds()
    finally:
        await driver.close()


async def test_device_reset_reports_and_resends_inhibits(
        acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor, cctalk_batches: Batches,
        cctalk_until: CctalkUntil) -> None:
    await acceptor.set_coins_enabled([10, 20])
    await acceptor.set_accepting(True)
    sim.insert(10)
    await cctalk_until(lambda: cctalk_batches.credits() == [10])
    sim.inject("reset")
    assert sim.counter == 0
    assert sim.accepts(10) == sim.model.keeps_inhibits_at_reset
    await cctalk_until(lambda: "device_reset" in cctalk_batches.kinds())
    assert cctalk_batches.batches[-1].counter == 0
    await cctalk_until(lambda: sim.master_enabled and sim.inhibit_mask == 0b0110)
    assert sim.insert(20) == "accepted"
    await cctalk_until(lambda: cctalk_batches.credits() == [10, 20])
    assert cctalk_batches.batches[-1].counter == 1


async def test_more_than_five_events_are_reported_lost(
        acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor, cctalk_batches: Batches,
        cctalk_until: CctalkUntil) -> None:
    await acceptor.set_accepting(True)
    for coin in (5, 10, 20, 50, 100, 5, 10):  # no await: the driver cannot poll between
        sim.insert(coin)
    await cctalk_until(lambda: cctalk_batches.batches)
    batch = cctalk_batches.batches[0]
    assert batch.counter == 7
    assert batch.events[0].kind is CoinEventKind.EVENTS_LOST and batch.events[0].code == 2
    assert [e.value_cents for e in batch.events[1:]] == [20, 50, 100, 5, 10]


async def test_handler_failure_redelivers_without_double_credit(
        acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor, cctalk_batches: Batches,
        cctalk_until: CctalkUntil) -> None:
    await acceptor.set_accepting(True)
    cctalk_batches.fail_next = 2
    sim.insert(50)
    await cctalk_until(lambda: cctalk_batches.batches)
    assert cctalk_batches.fail_next == 0
    sim.insert(20)
    await cctalk_until(lambda: len(cctalk_batches.credits()) == 2)
    assert cctalk_batches.credits() == [50, 20]
    assert [b.counter for b in cctalk_batches.batches] == [1, 2]


async def test_resume_counter_after_restart_credits_exactly_once(
        tmp_path: Path, cctalk_batches: Batches, cctalk_until: CctalkUntil) -> None:
    path = tmp_path / "world.json"
    world = SimWorld.load_or_create(path, coins=[5, 10, 20, 50, 100], slots=[])
    bus = build_cctalk_bus(world, reply_delay_s=0.001)
    await bus.start()
    assert bus.acceptor is not None
    link = CctalkLink(bus.port, reply_timeout_s=0.03)
    await link.start()
    driver = make_acceptor(link, cctalk_batches)
    await driver.start()
    await driver.set_accepting(True)
    bus.acceptor.insert(100)
    await cctalk_until(lambda: cctalk_batches.credits() == [100])
    stored = cctalk_batches.batches[-1].counter  # what the controller committed
    cctalk_batches.fail_next = 1000  # the controller's store is gone: nothing commits
    bus.acceptor.insert(50)
    bus.acceptor.insert(20)
    await cctalk_until(lambda: bus.acceptor is not None and bus.acceptor.counter == 3)
    await driver.close()  # the process dies; the acceptor and the saved world live on
    await link.close()
    await bus.close()

    reborn = SimWorld.load_or_create(path, coins=[5, 10, 20, 50, 100], slots=[])
    bus = build_cctalk_bus(reborn, reply_delay_s=0.001)
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.03)
    await link.start()
    cctalk_batches.fail_next = 0
    driver = make_acceptor(link, cctalk_batches)
    try:
        await driver.start(resume_counter=stored)
        await cctalk_until(lambda: len(cctalk_batches.credits()) == 3)
        assert cctalk_batches.credits() == [100, 50, 20]
        assert cctalk_batches.batches[-1].counter == 3
        await driver.close()
        driver = make_acceptor(link, cctalk_batches)
        await driver.start(resume_counter=None)  # no record: baseline, credit nothing
        await driver.poll_once()
        assert cctalk_batches.credits() == [100, 50, 20]
    finally:
        await driver.close()
        await link.close()
        await bus.close()


async def test_inhibited_coin_is_not_credited_and_inhibits_resent(
        acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor, cctalk_batches: Batches,
        cctalk_until: CctalkUntil, cctalk_world: SimWorld) -> None:
    await acceptor.set_coins_enabled([5, 10, 20, 50])
    await acceptor.set_accepting(True)
    sent_before = len(frames_with_header(sim, "e7"))
    assert sim.insert(100) == "inhibited"
    await cctalk_until(lambda: cctalk_batches.batches)
    event = cctalk_batches.batches[0].events[0]
    assert (event.kind, event.code, event.value_cents) == (CoinEventKind.INHIBITED, 2, 0)
    assert cctalk_batches.credits() == []
    assert cctalk_world.cup == [100]
    assert len(frames_with_header(sim, "e7")) > sent_before
    assert frames_with_header(sim, "e7")[-1] == "02 02 01 e7 0f 00 05"


async def test_master_inhibit_polarity(acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor,
                                       cctalk_batches: Batches, cctalk_until: CctalkUntil,
                                       cctalk_world: SimWorld) -> None:
    if not sim.model.master_inhibit:
        pytest.skip("no master inhibit: test_cctalk_acceptor_models.py covers the fallback")
    assert sim.insert(50) == "inhibited"  # not accepting: the coin comes back
    await cctalk_until(lambda: cctalk_batches.batches)
    assert cctalk_batches.credits() == [] and cctalk_world.cup == [50]
    await acceptor.set_accepting(True)
    assert acceptor.accepting and sim.master_enabled
    assert sim.insert(50) == "accepted"
    await acceptor.set_accepting(False)
    assert frames_with_header(sim, "e4")[-2:] == ["02 01 01 e4 01 17", "02 01 01 e4 00 18"]
    assert sim.insert(50) == "inhibited"
    await cctalk_until(lambda: acceptor.last_counter == 3)
    assert cctalk_batches.credits() == [50]


async def test_per_coin_mask_bits(acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor,
                                  cctalk_batches: Batches, cctalk_until: CctalkUntil) -> None:
    await acceptor.set_accepting(True)
    await acceptor.set_coins_enabled([10, 50])
    assert sim.inhibit_mask == 0b01010
    assert frames_with_header(sim, "e7")[-1] == "02 02 01 e7 0a 00 0a"
    assert [sim.insert(c) for c in (5, 10, 20, 50, 100)] == [
        "inhibited", "accepted", "inhibited", "accepted", "inhibited"]
    await cctalk_until(lambda: acceptor.last_counter == 5)
    assert cctalk_batches.credits() == [10, 50]


async def test_event_codes_and_unknown_position(acceptor: CctalkCoinAcceptor,
                                                sim: SimCctalkAcceptor, cctalk_batches: Batches,
                                                cctalk_until: CctalkUntil) -> None:
    for code in (1, 9, 20, 254):
        sim.inject_event(code)
    sim.inject_event(1, position=9)  # a credit at a position with no coin id
    await cctalk_until(lambda: acceptor.last_counter == 5)
    sim.inject_event(255)
    await cctalk_until(lambda: acceptor.last_counter == 6)
    assert cctalk_batches.kinds() == [
        "rejected", "sensor", "fraud", "return_lever", "alarm", "alarm"]
    events = [e for b in cctalk_batches.batches for e in b.events]
    assert [e.alert for e in events] == [False, False, True, False, False, True]
    assert events[2].meaning == "coin-on-string mechanism activated"
    assert cctalk_batches.batches[0].events[-1].position == 9
    assert cctalk_batches.credits() == []


async def test_jammed_acceptor(acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor,
                               cctalk_batches: Batches, cctalk_until: CctalkUntil) -> None:
    await acceptor.set_accepting(True)
    sim.inject("jam")
    assert sim.insert(100) == "rejected"
    await cctalk_until(lambda: acceptor.last_counter == 2)
    assert cctalk_batches.kinds() == ["sensor_fault", "sensor_fault"]  # credit sensor blocked
    sim.clear()
    assert sim.insert(100) == "accepted"


async def test_silent_device_lost_once_then_back(
        acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor, cctalk_batches: Batches,
        cctalk_until: CctalkUntil) -> None:
    await acceptor.set_accepting(True)
    sim.insert(20)
    await cctalk_until(lambda: cctalk_batches.credits() == [20])
    sim.inject("silent")
    sim.insert(10)  # the coin mechanism still works; only the wire is dead
    await cctalk_until(lambda: "device_lost" in cctalk_batches.kinds())
    polls = len(sim.entries("rx"))
    await cctalk_until(lambda: len(sim.entries("rx")) >= polls + 6)  # keeps trying, slower
    assert cctalk_batches.kinds() == ["credit", "device_lost"]
    sim.clear()
    await cctalk_until(lambda: cctalk_batches.credits() == [20, 10])
    assert cctalk_batches.kinds()[2:] == ["device_back", "credit"]
    cctalk_batches.batches.clear()
    sim.inject("silent")
    await cctalk_until(lambda: "device_lost" in cctalk_batches.kinds())
    sim.inject("reset")  # power-cycled while away: counter 0, everything inhibited
    sim.clear()
    await cctalk_until(lambda: "device_reset" in cctalk_batches.kinds())
    assert cctalk_batches.kinds() == ["device_lost", "device_back", "device_reset"]
    await cctalk_until(lambda: sim.master_enabled and sim.inhibit_mask == 0x1F)


async def test_bad_checksum_never_credits(acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor,
                                          cctalk_batches: Batches,
                                          cctalk_until: CctalkUntil) -> None:
    await acceptor.set_accepting(True)
    sim.inject("bad_checksum")
    sim.insert(100)
    await cctalk_until(lambda: "device_lost" in cctalk_batches.kinds())
    assert cctalk_batches.credits() == []
    sim.clear()
    await cctalk_until(lambda: cctalk_batches.credits())
    assert cctalk_batches.kinds() == ["device_lost", "device_back", "credit"]
    assert cctalk_batches.credits() == [100]


async def test_nak_and_busy_polls_are_skipped(acceptor: CctalkCoinAcceptor,
                                              sim: SimCctalkAcceptor, cctalk_batches: Batches,
                                              cctalk_until: CctalkUntil) -> None:
    acceptor.refused_polls_lost = 1000  # a passing refusal, however fast the polls
    await acceptor.set_accepting(True)
    for fault in ("nak", "busy"):
        sim.inject(fault)
        sim.insert(10)
        polls = len(sim.entries("rx"))
        # fewer refusals in a row than the limit: skipped, nothing credited, not lost
        await cctalk_until(lambda: len(sim.entries("rx")) >= polls + 2)  # noqa: B023
        assert cctalk_batches.credits() == []
        sim.clear()
        await cctalk_until(lambda: cctalk_batches.credits())
        assert "device_lost" not in cctalk_batches.kinds()
        cctalk_batches.batches.clear()
    assert acceptor.last_counter == 2


@pytest.mark.parametrize("fault", ["nak", "busy"])
async def test_an_acceptor_refusing_every_poll_is_lost(
        acceptor: CctalkCoinAcceptor, sim: SimCctalkAcceptor, cctalk_batches: Batches,
        cctalk_until: CctalkUntil, fault: str) -> None:
    await acceptor.set_accepting(True)
    sim.inject(fault)
    sim.insert(20)  # taken by the mechanism, unread while the device refuses
    await cctalk_until(lambda: "device_lost" in cctalk_batches.kinds())
    assert cctalk_batches.kinds() == ["device_lost"] and cctalk_batches.credits() == []
    sim.clear()
    await cctalk_until(lambda: cctalk_batches.credits() == [20])
    assert cctalk_batches.kinds() == ["device_lost", "device_back", "credit"]


async def test_close_inhibits_everything(cctalk_link: CctalkLink, sim: SimCctalkAcceptor,
                                         cctalk_batches: Batches) -> None:
    driver = make_acceptor(cctalk_link, cctalk_batches)
    await driver.start()
    await driver.set_accepting(True)
    await driver.close()
    assert not any(sim.accepts(coin) for coin in COINS)
    assert sim.insert(100) == "inhibited"
