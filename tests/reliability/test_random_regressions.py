"""Defects the random-action run (``test_random_actions.py``) found, each made small.

1. A coin accepted by the simulated ccTalk acceptor is written to the saved
   world twice: into its hopper (``route_coin``), then as a credit event in the
   acceptor's buffer.  A SIGKILL between the two leaves a coin in the hopper
   that no event will ever credit: the restarted machine's books hold one coin
   less than its hoppers (seed 102 of the long form, a ``coin(50)`` cut by a
   kill).  A real acceptor has no such window worth modelling (the simulator
   does not model coins in flight): the world now saves both in one write
   (``SimWorld.one_save``), and the test below shows no cut splits them.

2. (Not a test here: it needs a race.)  A coin accepted by the ccTalk
   acceptor and reset away (``/sim/fault acceptor reset``) before the next
   poll is in its hopper with no credit; the controller logs
   ``acceptor_device_reset`` and goes on selling with no fault, its books one
   coin short of the hopper.  DESIGN.md wants a fault that may have lost money
   latched until an operator clears it.  ``random_world.py`` allows such coins
   only up to what was offered beside an acceptor fault, and only with the
   reset in the event log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drivers.cctalk.frame import Header
from simulators.cctalk.acceptor import SimCctalkAcceptor
from simulators.world import SimWorld

COINS = [5, 10, 20, 50, 100]


def fresh_acceptor(path: Path) -> SimCctalkAcceptor:
    path.unlink(missing_ok=True)
    world = SimWorld.load_or_create(path, coins=COINS, slots=["A1"])
    acceptor = SimCctalkAcceptor(world)
    acceptor.answer(Header.MODIFY_INHIBIT_STATUS, bytes([0xFF, 0xFF]))
    acceptor.answer(Header.MODIFY_MASTER_INHIBIT, bytes([1]))
    return acceptor


def saves_of_one_coin(path: Path) -> int:
    acceptor = fresh_acceptor(path)
    world = acceptor.world
    count = 0
    save = world.save

    def counting_save() -> None:
        nonlocal count
        count += 1
        save()
    world.save = counting_save  # type: ignore[method-assign]
    assert acceptor.insert(50) == "accepted"
    return count


def disk_after_cut(path: Path, cut_after: int) -> dict[str, Any]:
    """Insert a 50, the power going after the ``cut_after``-th world save."""
    acceptor = fresh_acceptor(path)
    world = acceptor.world
    done = 0
    save = world.save

    def save_until_cut() -> None:
        nonlocal done
        if done < cut_after:
            save()
        done += 1
    world.save = save_until_cut  # type: ignore[method-assign]
    acceptor.insert(50)
    saved = SimWorld.load_or_create(path, coins=COINS, slots=["A1"])
    registers = saved.device("cctalk:acceptor")
    return {"hopper": saved.hoppers[50], "counter": registers.get("counter", 0)}


@pytest.mark.timeout(30)
def test_a_power_cut_never_splits_a_coin_from_its_credit_event(tmp_path: Path) -> None:
    path = tmp_path / "vending.db.world.json"
    saves = saves_of_one_coin(path)
    assert saves >= 1
    for cut_after in range(saves + 1):
        disk = disk_after_cut(path, cut_after)
        coin_in = disk["hopper"] == 21
        event_in = disk["counter"] == 1
        assert coin_in == event_in, (cut_after, saves, disk)
