"""Driver contract tests: the same tests on every simulated model and on real devices.

Like python-can's back-to-back tests, each hopper test here runs against
every simulated hopper model (flow, sch2, sch1), each acceptor test against
every simulated acceptor model (generic, basic, retentive), and, when a
technician sets
``VENDING_CCTALK_PORT``, against the real ccTalk devices on that port.  They
use only what a real device does on its own (no fault injection), so a pass
on the machine means the drivers and the device agree on the bytes.

Environment for a real bus (see the README, "Testing on real devices"):
``VENDING_CCTALK_PORT`` (e.g. /dev/ttyUSB0), ``VENDING_CCTALK_ECHO``
(auto/on/off), ``VENDING_CCTALK_ACCEPTOR`` (address, empty to skip),
``VENDING_CCTALK_HOPPER`` (address, empty to skip),
``VENDING_CCTALK_HOPPER_MODEL`` (flow/sch2/sch1) and ``VENDING_CCTALK_PAYOUT``
(coins each paying test pays; 0 skips them).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import pytest
import pytest_asyncio

from drivers.base import CoinBatch, HopperStatus
from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.coins import inhibit_mask
from drivers.cctalk.frame import Header
from drivers.cctalk.hopper import ENABLE_KEY, HOPPER_MODELS, CctalkHopper
from drivers.cctalk.link import CctalkLink, EchoMode
from drivers.errors import DeviceNak
from simulators.cctalk import SimCctalkBus, build_cctalk_bus
from simulators.cctalk.acceptor_models import ACCEPTOR_MODELS
from simulators.world import SimWorld

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

REAL_PORT = os.environ.get("VENDING_CCTALK_PORT", "")
TARGETS = ["sim:flow", "sim:sch2", "sim:sch1", "real"]
ACCEPTOR_TARGETS = [*(f"sim:{m}" for m in sorted(ACCEPTOR_MODELS)), "real"]


def _env_address(name: str, default: str) -> int | None:
    raw = os.environ.get(name, default).strip()
    return int(raw) if raw else None


@dataclass
class Target:
    """One ccTalk bus to test: a simulated one, or the real one on a port."""

    name: str
    link: CctalkLink
    hopper_address: int | None
    hopper_model: str
    acceptor_address: int | None
    payout_coins: int
    bus: SimCctalkBus | None = None

    def hopper(self) -> CctalkHopper:
        if self.hopper_address is None:
            pytest.skip("no hopper address given (VENDING_CCTALK_HOPPER)")
        facts = HOPPER_MODELS[self.hopper_model]
        fast = self.bus is not None  # the simulated hopper pays in milliseconds
        return CctalkHopper(self.link, address=self.hopper_address, coin_cents=0,
                            security=facts.security,
                            counter_moves_on_refusal=facts.counter_moves_on_refusal,
                            status_poll_interval_s=0.005 if fast else 0.1,
                            late_coin_window_s=0.02 if fast else 0.5,
                            name=f"hopper@{self.hopper_address}")

    def acceptor(self) -> CctalkCoinAcceptor:
        if self.acceptor_address is None:
            pytest.skip("no acceptor address given (VENDING_CCTALK_ACCEPTOR)")
        return CctalkCoinAcceptor(self.link, address=self.acceptor_address,
                                  poll_interval_s=0.1)


async def _sim_target(hopper_model: str = "flow", acceptor_model: str = "generic") -> Target:
    world = SimWorld.load_or_create(None, coins=[5, 10, 20, 50, 100], slots=["A1"])
    bus = build_cctalk_bus(world, hopper_model=hopper_model, acceptor_model=acceptor_model,
                           reply_delay_s=0.001, coin_interval_s=0.003)
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.03, retries=2)
    return Target(f"sim:{hopper_model}/{acceptor_model}", link, 6, hopper_model, 2,
                  payout_coins=2, bus=bus)


def _real_target() -> Target:
    if not REAL_PORT:
        pytest.skip("no real ccTalk bus: set VENDING_CCTALK_PORT to run on devices")
    echo = cast(EchoMode, os.environ.get("VENDING_CCTALK_ECHO", "auto"))
    model = os.environ.get("VENDING_CCTALK_HOPPER_MODEL", "flow")
    if model not in HOPPER_MODELS:
        pytest.fail(f"VENDING_CCTALK_HOPPER_MODEL must be one of {sorted(HOPPER_MODELS)}")
    link = CctalkLink(REAL_PORT, echo=echo, reply_timeout_s=0.1, retries=3)
    return Target("real", link, _env_address("VENDING_CCTALK_HOPPER", "3"), model,
                  _env_address("VENDING_CCTALK_ACCEPTOR", "2"),
                  payout_coins=int(os.environ.get("VENDING_CCTALK_PAYOUT", "1")))


@pytest_asyncio.fixture(params=TARGETS)
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    """A bus with a hopper of each simulated model, or the real bus."""
    name: str = request.param
    bus_target = _real_target() if name == "real" else await _sim_target(name[4:])
    async for opened in _opened(bus_target):
        yield opened


@pytest_asyncio.fixture(params=ACCEPTOR_TARGETS)
async def acceptor_target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    """A bus with an acceptor of each simulated model, or the real bus."""
    name: str = request.param
    bus_target = (_real_target() if name == "real"
                  else await _sim_target(acceptor_model=name[4:]))
    async for opened in _opened(bus_target):
        yield opened


async def _opened(bus_target: Target) -> AsyncIterator[Target]:
    try:
        await bus_target.link.start()
        yield bus_target
    finally:
        await bus_target.link.close()
        if bus_target.bus is not None:
            await bus_target.bus.close()


def counter_after(counter: int, steps: int = 1) -> int:
    """A hopper event counter ``steps`` dispenses later: 1..255, wrapping to 1."""
    for _ in range(steps):
        counter = 1 if counter >= 255 else counter + 1
    return counter


# --- hopper -------------------------------------------------------------------------


async def test_hopper_identifies_itself(target: Target) -> None:
    hopper = target.hopper()
    await hopper.start()
    assert len(hopper.serial_number) == 3
    identity = hopper.identity  # read with the hosts' requests (246, 245, 244, 242 ...)
    assert identity is not None and identity.category == "Payout"
    assert identity.manufacturer and identity.serial_number
    status = await hopper.status()
    assert isinstance(status, HopperStatus) and status.remaining == 0
    flags = await hopper.test_flags()
    assert 1 <= len(flags) <= 3  # SCH1 one byte, SCH2 two, SCH3 three


async def test_hopper_pays_exactly_what_it_was_asked(target: Target) -> None:
    if target.payout_coins <= 0:
        pytest.skip("paying tests disabled (VENDING_CCTALK_PAYOUT=0)")
    hopper = target.hopper()
    await hopper.start()
    before = await hopper.status()
    lifetime = await hopper.dispense_count()  # None: the model keeps no count (168)
    seen: list[int] = []

    async def on_paid(total: int) -> None:
        seen.append(total)

    result = await hopper.dispense(target.payout_coins, on_paid=on_paid)
    assert (result.paid, result.fault, result.certain) == (target.payout_coins, None, True)
    after = await hopper.status()
    assert (after.remaining, after.paid, after.unpaid) == (0, target.payout_coins, 0)
    assert after.counter == counter_after(before.counter)
    assert seen and seen[-1] == target.payout_coins and seen == sorted(seen)
    if lifetime is not None:  # the lifetime count moved by exactly the coins paid
        assert await hopper.dispense_count() == lifetime + target.payout_coins
    await hopper.close()


async def test_hopper_refuses_a_dispense_with_the_wrong_key(target: Target) -> None:
    hopper = target.hopper()
    await hopper.start()
    link, address = target.link, hopper.address
    await link.request(address, Header.ENABLE_HOPPER, bytes((ENABLE_KEY,)), reply_len=0)
    before = await hopper.status()
    # the serial number turned around (serial security), or 8 zero bytes without
    # a cipher key first (SCH2 no-encryption firmware): refused either way
    wrong = bytes(8) if hopper.security == "zero" else hopper.serial_number[::-1]
    if wrong == hopper.serial_number:
        wrong = bytes(3)
    with pytest.raises(DeviceNak):
        await link.request(address, Header.DISPENSE_COINS, wrong + b"\x01", retries=0)
    after = await hopper.status()
    assert (after.remaining, after.paid, after.unpaid) == (0, before.paid, before.unpaid)
    assert after.counter in (before.counter, counter_after(before.counter))
    await hopper.close()


async def test_hopper_emergency_stop_at_rest(target: Target) -> None:
    hopper = target.hopper()
    await hopper.start()
    status = await hopper.emergency_stop()
    assert status.remaining == 0


# --- coin acceptor ---------------------------------------------------------------------


async def test_acceptor_starts_and_takes_inhibits(acceptor_target: Target) -> None:
    acceptor = acceptor_target.acceptor()
    batches: list[CoinBatch] = []

    async def handler(batch: CoinBatch) -> None:
        batches.append(batch)

    acceptor.set_handler(handler)
    await acceptor.start()
    try:
        assert acceptor.known_coins_cents  # coin ids read and mapped to values
        assert acceptor.event_counter is not None
        await acceptor.set_coins_enabled(sorted(acceptor.known_coins_cents)[:1])
        await acceptor.set_accepting(True)
        assert acceptor.accepting
        await acceptor.set_accepting(False)
        assert not acceptor.accepting
        assert all(e.kind.value != "credit" for b in batches for e in b.events)
    finally:
        await acceptor.close()


async def read_inhibits(target: Target) -> tuple[bytes, bool | None]:
    """The device's own inhibit registers: (231 mask, 228 normal operation or None
    for a device without a master inhibit)."""
    assert target.acceptor_address is not None
    mask = await target.link.request(target.acceptor_address, Header.REQUEST_INHIBIT_STATUS,
                                     reply_len=2)
    try:
        master = await target.link.request(target.acceptor_address,
                                           Header.REQUEST_MASTER_INHIBIT, reply_len=1)
    except DeviceNak:
        return mask, None
    return mask, bool(master[0] & 1)


def refusing(mask: bytes, master: bool | None) -> bool:
    return master is False or mask == b"\x00\x00"


async def test_acceptor_registers_hold_what_the_driver_sent(acceptor_target: Target) -> None:
    acceptor = acceptor_target.acceptor()
    acceptor.set_handler(_ignore)
    await acceptor.start()
    try:
        assert refusing(*await read_inhibits(acceptor_target))  # a safe start
        lowest = min(acceptor.known_coins_cents)
        await acceptor.set_coins_enabled([lowest])
        await acceptor.set_accepting(True)
        mask, master = await read_inhibits(acceptor_target)
        assert mask == inhibit_mask(acceptor.coin_positions, {lowest}) and master in (True, None)
        await acceptor.set_accepting(False)
        assert refusing(*await read_inhibits(acceptor_target))
    finally:
        await acceptor.close()
    assert refusing(*await read_inhibits(acceptor_target))


async def test_acceptor_reset_is_reported_and_inhibits_sent_again(
        acceptor_target: Target) -> None:
    acceptor = acceptor_target.acceptor()
    batches: list[CoinBatch] = []

    async def handler(batch: CoinBatch) -> None:
        batches.append(batch)

    acceptor.set_handler(handler)
    await acceptor.start()
    try:
        coins = sorted(acceptor.known_coins_cents)[:2]
        await acceptor.set_coins_enabled(coins)
        await acceptor.set_accepting(True)
        await _counter_moved(acceptor_target, acceptor, coins[0])
        assert acceptor_target.acceptor_address is not None
        await acceptor_target.link.request(acceptor_target.acceptor_address,
                                           Header.RESET_DEVICE, reply_len=0)
        await asyncio.sleep(0.1 if acceptor_target.bus is not None else 1.0)  # power-up
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while not any(e.kind.value == "device_reset" for b in batches for e in b.events):
            assert loop.time() < deadline, "the reset was never reported"
            await asyncio.sleep(0.05)
        while (await read_inhibits(acceptor_target))[0] != inhibit_mask(
                acceptor.coin_positions, set(coins)):
            assert loop.time() < deadline, "the inhibits were not sent again"
            await asyncio.sleep(0.05)
        assert (await read_inhibits(acceptor_target))[1] in (True, None)
    finally:
        await acceptor.close()


async def _counter_moved(target: Target, acceptor: CctalkCoinAcceptor, coin_cents: int) -> None:
    """A reset shows only as a counter back at 0: it must have left 0 before."""
    if acceptor.event_counter:
        return
    if target.bus is None or target.bus.acceptor is None:
        pytest.skip("the acceptor's event counter is 0 (just powered up), so a reset "
                    "cannot be seen: insert one coin, then run the test again")
    assert target.bus.acceptor.insert(coin_cents) == "accepted"  # a customer's coin
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while not acceptor.event_counter:
        assert loop.time() < deadline, "the coin was never read"
        await asyncio.sleep(0.01)


async def _ignore(batch: CoinBatch) -> None:
    """A coin handler that takes nothing (no coin is inserted in these tests)."""
