"""A whole simulated machine on every ccTalk acceptor model: coins in, the
acceptor reset between two polls while it holds a customer's credit, a sale,
change out, and the books equal to the world."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import Config
from controller.machine import Machine
from drivers.cctalk.acceptor_models import ACCEPTOR_MODELS
from tests.machine.harness import Tally, check_conservation, run_steps, settle, start_machine

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def until_credit(machine: Machine, cents: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while await machine.panel_credit() != cents:
        assert loop.time() < deadline, "the credit never came"
        await asyncio.sleep(0.01)
    await settle(machine)


@pytest.mark.parametrize("model", sorted(ACCEPTOR_MODELS))
async def test_a_sale_across_an_acceptor_reset(tmp_path: Path, model: str) -> None:
    cfg = Config()
    machine = await start_machine(tmp_path / "v.db",
                                  replace(cfg, acceptor=replace(cfg.acceptor, model=model)))
    tally = Tally()
    try:
        await run_steps(machine, [
            ("product", {"slot": "A1", "name": "Chips", "cost": 70, "amount": 2}),
            ("coin", 50),
            ("expect", {"credit": 50}),
        ], tally)
        sim = machine.sim.simulated_machine.bus
        assert sim is not None and sim.acceptor is not None
        sim.acceptor.inject("reset")  # and the next coin comes before the next poll
        first = sim.acceptor.insert(50)
        # a model that keeps its inhibits takes it; the others refuse it until the
        # driver, seeing the reset in the buffer, sends the inhibits again
        assert first == ("accepted" if sim.acceptor.model.keeps_inhibits_at_reset
                         else "inhibited")
        tally.inserted += 50 if first == "accepted" else 0
        bounced = [] if first == "accepted" else [50]
        acceptor = sim.acceptor
        await until(lambda: acceptor.accepts(50))
        if bounced:
            again = await machine.sim.insert_coin(50)
            assert again["result"] == "accepted"
            tally.inserted += 50
        await until_credit(machine, 100)
        await run_steps(machine, [
            ("expect", {"credit": 100, "returned": bounced}),
            ("press", "A1"),
            ("expect", {"tray": ["Chips"], "credit": 0}),
        ], tally)
        assert sorted(machine.sim.state()["returned"]) == sorted([*bounced, 10, 20])
        await check_conservation(machine, tally)
    finally:
        await machine.close()
