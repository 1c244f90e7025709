"""Random actions against a real ``vending run``, the books checked at every checkpoint.

Sign-ups, products, deposits, buys, resets, coins and keys at the panel, the
tray, refills, cashbox collection, service mode, every fault on every device
and its clear, a few requests at once, SIGKILL and restart: see
``random_actions.py`` for the actions and ``random_world.py`` for what is
checked (money and goods conserved whatever state the machine is in).

The short form (a few seeds) runs with the suite; the long form runs
``VENDING_RANDOM_SEEDS`` seeds (e.g. ``VENDING_RANDOM_SEEDS=50``) from
``VENDING_RANDOM_FIRST_SEED`` (100), and ``VENDING_RANDOM_STEPS`` sets the
steps per seed (60).  A failure names its seed
and the actions so far: rerun that seed alone with ``-k``.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.process import Server, cli, login
from tests.reliability.random_actions import Customers
from tests.reliability.random_world import check_books, request

SHORT_SEEDS = [1, 2, 3]
LONG_SEEDS = int(os.environ.get("VENDING_RANDOM_SEEDS", "0"))
STEPS = int(os.environ.get("VENDING_RANDOM_STEPS", "0"))
FIRST_SEED = int(os.environ.get("VENDING_RANDOM_FIRST_SEED", "100"))
CHECK_EVERY = 6
# a deposit claim the simulated buyer cannot meet (a jammed acceptor) times out soon
CONFIG = "[machine]\ndeposit_claim_s = 2.0\ndeposit_claim_cooldown_s = 1.0\n"


def seeds() -> list[int]:
    return list(range(FIRST_SEED, FIRST_SEED + LONG_SEEDS)) if LONG_SEEDS else SHORT_SEEDS


def start(tmp_path: Path) -> tuple[Server, str]:
    db = tmp_path / "vending.db"
    config = tmp_path / "vending.toml"
    config.write_text(CONFIG)
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    server = Server(db, args=("--sim", "--config", str(config)))
    server.start()
    return server, login(server, "oper", "operator-pass")


@pytest.mark.timeout(900 if LONG_SEEDS else 120)
@pytest.mark.parametrize("seed", seeds())
def test_random_actions_conserve_money_and_goods(seed: int, tmp_path: Path) -> None:
    server, operator = start(tmp_path)
    customers = Customers(server, operator, seed)
    steps = STEPS or (60 if LONG_SEEDS else 30)
    figures: dict[str, Any] = {}
    try:
        customers.setup()
        with ThreadPoolExecutor(4) as pool:
            for n in range(1, steps + 1):
                customers.step(pool)
                if n % CHECK_EVERY == 0 or n == steps:
                    figures = check_at(customers, seed, n)
    finally:
        server.stop()
    print(json.dumps({"seed": seed, "steps": steps, "last": figures,
                      "actions": customers.log, "answers": customers.statuses}))


def check_at(customers: Customers, seed: int, step: int) -> dict[str, Any]:
    try:
        return check_books(customers.server, customers.operator, customers.outside)
    except AssertionError as exc:
        machine = request(customers.server, "GET", "/machine", token=customers.operator).body
        raise AssertionError(f"seed {seed}, step {step}: {exc}\nactions: {customers.log}\n"
                             f"answers: {customers.statuses}\n"
                             f"faults: {machine.get('faults')}") from exc


@pytest.mark.timeout(60)
def test_the_check_sees_a_coin_nobody_told_it_about(tmp_path: Path) -> None:
    # The books and the world would agree; only the outside tally misses a coin.
    server, operator = start(tmp_path)
    try:
        customers = Customers(server, operator, seed=0)
        customers.setup()
        check_books(server, operator, customers.outside)
        assert server.call("POST", "/sim/coin", {"coin": 50})["result"] == "accepted"
        with pytest.raises(AssertionError, match="coins in less change"):
            check_books(server, operator, customers.outside)
        customers.outside.offered_cents += 50
        check_books(server, operator, customers.outside)
        server.call("POST", "/sim/press", {"keys": "*"})  # the 50 back into the cup
        taken = request(server, "POST", "/sim/tray/take").body
        assert taken["returned"] == [50]
        with pytest.raises(AssertionError, match="coins in less change"):
            check_books(server, operator, customers.outside)
    finally:
        server.stop()
