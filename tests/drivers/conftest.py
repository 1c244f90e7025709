"""ccTalk fixtures: a saved simulated world, a simulated bus on a pty, a real link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from drivers.base import CoinBatch
from drivers.cctalk.link import CctalkLink
from simulators.cctalk import SimCctalkBus, build_cctalk_bus
from simulators.world import SimWorld

CCTALK_COINS = [5, 10, 20, 50, 100]
CCTALK_TIMEOUT_S = 0.03


@pytest.fixture
def cctalk_world(tmp_path: Path) -> SimWorld:
    return SimWorld.load_or_create(tmp_path / "world.json", coins=CCTALK_COINS, slots=["A1"])


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
