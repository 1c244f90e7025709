"""A simulated machine with an MDB coin changer instead of the ccTalk acceptor and hoppers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.config import Config, parse
from controller.machine import Machine
from simulators.mdb.changer import SimMdbChanger
from tests.machine.harness import start_machine


def mdb_config(**sections: Any) -> Config:
    """The built-in simulated machine with its coins through an MDB changer."""
    return parse({"acceptor": {"kind": "mdb"}, "mdb": {}, **sections}, "(MDB test machine)")


async def start_mdb_machine(db_path: Path) -> Machine:
    return await start_machine(db_path, mdb_config())


def sim_changer(machine: Machine) -> SimMdbChanger:
    assert machine.sim is not None
    target = machine.sim.simulated_machine.device_named("changer")
    assert isinstance(target, SimMdbChanger)
    return target


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def tubes(machine: Machine) -> dict[int, int]:
    """The books' count of each tube."""
    return {int(c["coin"]): int(c["payout"]) for c in await machine.coin_inventory()}


async def until_tubes(machine: Machine, coin: int, count: int, timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (await tubes(machine))[coin] != count:
        assert loop.time() < deadline, (coin, count, await tubes(machine))
        await asyncio.sleep(0.01)
