"""Driver fixtures: gpiozero mock pins; a saved simulated world, a simulated ccTalk bus on a
pty, a real link."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio
from gpiozero.pins.mock import MockFactory

from drivers.base import CoinBatch
from drivers.cctalk.link import CctalkLink
from simulators.cctalk import SimCctalkBus, build_cctalk_bus
from simulators.gpio.pins import sim_factory_context
from simulators.world import SimWorld

CCTALK_COINS = [5, 10, 20, 50, 100]


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    """gpiozero's mock pin factory for the test, the real backend restored after it."""
    with sim_factory_context() as factory:
        yield factory

CCTALK_TIMEOUT_S = 0.03


@pytest.fixture
def cctalk_world() -> SimWorld:
    """An unsaved world (no fsync per coin); restart tests build their own saved one."""
    return SimWorld.load_or_create(None, coins=CCTALK_COINS, slots=["A1"])


@pytest_asyncio.fixture
async def cctalk_bus(cctalk_world: SimWorld) -> AsyncIterator[SimCctalkBus]:
    bus = build_cctalk_bus(cctalk_world, reply_delay_s=0.001, coin_interval_s=0.005)
    await bus.start()
    yield bus
    await bus.close()


@pytest_asyncio.fixture
async def cctalk_link(cctalk_bus: SimCctalkBus) -> AsyncIterator[CctalkLink]:
    link = CctalkLink(cctalk_bus.port, reply_timeout_s=CCTALK_TIMEOUT_S, retries=2)
    await link.start()
    yield link
    await link.close()


class CctalkBatches:
    """A coin handler that records batches and can be told to fail."""

    def __init__(self) -> None:
        self.batches: list[CoinBatch] = []
        self.fail_next = 0

    async def __call__(self, batch: CoinBatch) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("handler failed on purpose")
        self.batches.append(batch)

    def kinds(self) -> list[str]:
        return [e.kind.value for b in self.batches for e in b.events]

    def credits(self) -> list[int]:
        return [e.value_cents for b in self.batches for e in b.events if e.kind == "credit"]


@pytest.fixture
def cctalk_batches() -> CctalkBatches:
    return CctalkBatches()


CctalkUntil = Callable[..., Awaitable[None]]
CctalkRaw = Callable[..., Awaitable[bytes]]


async def _until(predicate: Callable[[], object], timeout_s: float = 2.0) -> None:
    """Wait until ``predicate()`` is true, polling every few milliseconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.003)


@pytest.fixture
def cctalk_until() -> CctalkUntil:
    return _until


async def _raw_exchange(port: str, request: bytes, reply_len: int,
                        timeout_s: float = 1.0) -> bytes:
    """Write raw bytes to a tty and read ``reply_len`` bytes back (no driver involved)."""
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        os.write(fd, request)
        got = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(got) < reply_len and loop.time() < deadline:
            try:
                got += os.read(fd, reply_len - len(got))
            except BlockingIOError:
                await asyncio.sleep(0.002)
        return got
    finally:
        os.close(fd)


@pytest.fixture
def cctalk_raw() -> CctalkRaw:
    return _raw_exchange
