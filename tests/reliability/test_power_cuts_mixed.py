"""Many power cuts in mixed use: the coin books end equal to the coins in the machine.

One simulated machine (Flow hoppers, the default) lives through sales with
change and coin returns, each cut at a random store transaction, before or
after its commit; the power comes back on the same database and saved world
each time.  Payouts repeat the same coins on purpose: a payout cut after its
dispense went out, on a hopper whose last payout was the same, is the case
where the event counter and the figures cannot tell a taken dispense from a
refused one.  The Flow hopper's lifetime dispense count (168), journaled
before each dispense, settles it exactly: after every cut the books hold
exactly the coins of the simulated machine, and no hopper is latched for an
operator to count.

``VENDING_POWER_CUTS`` sets the number of cuts (16 in the suite; 100 makes
the long run).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from controller.machine import Machine
from tests.machine.harness import (
    CutSwitch,
    Tally,
    check_conservation,
    pull_the_plug,
    settle,
    start_machine,
    stock,
)

CUTS = int(os.environ.get("VENDING_POWER_CUTS", "16"))
SLOTS = ("A1", "A2", "A3", "A4", "B1", "B2")
PRICE = 65  # 100 in, 35 change: 20 + 10 + 5, the same coins every time
RETURN_COINS = (20, 10, 5)  # a coin return pays the same three coins
MAX_TX = 14  # a flow's store transactions (tests/machine/test_power_cut.py: 11..15)
COUNT_IT = "cannot tell whether it paid"


def repeats_on_disk(path: Path) -> int:
    """Open payouts whose hopper took its dispense after a payout of the same
    figures: what the event counter alone cannot settle (read from the files
    a restarted machine finds)."""
    world = json.loads(Path(f"{path}.world.json").read_text())
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT plan, counters, before_status FROM payouts "
                          "WHERE status = 'pending'").fetchall()
    found = 0
    for plan, counters, before in rows:
        counts, figures = json.loads(counters), json.loads(before)
        for coin, count in json.loads(plan).items():
            regs = world["devices"].get(f"cctalk:hopper:{coin}", {})
            if coin not in counts or coin not in figures:
                continue
            moved = int(regs.get("counter", 0)) == int(counts[coin]) % 255 + 1
            if moved and figures[coin][:2] == [count, 0]:
                found += 1
    return found


async def slot_to_sell(machine: Machine) -> str | None:
    state = await machine.state_json()
    for slot in state["slots"]:
        product = slot["product"]
        if slot["status"] == "ok" and product and product["amountAvailable"] > 0:
            return str(slot["slot"])
    return None


async def one_flow(machine: Machine, rng: random.Random, tally: Tally) -> str:
    """Coins in for a sale with change or a coin return; the keys that start it."""
    slot = await slot_to_sell(machine) if rng.random() < 0.5 else None
    coins = (100,) if slot else RETURN_COINS
    for coin in coins:
        result = await machine.sim.insert_coin(coin)
        assert result["result"] == "accepted", result
        tally.inserted += coin
    return slot or "*"


async def books_equal_world(machine: Machine, tally: Tally) -> None:
    await check_conservation(machine, tally)  # coins per hopper and cashbox: equal
    reasons = [f["reason"] for f in (await machine.state_json())["faults"]]
    assert not [r for r in reasons if COUNT_IT in r], reasons


@pytest.mark.asyncio
@pytest.mark.timeout(60 + 15 * CUTS)
async def test_power_cuts_in_mixed_use_keep_the_coin_books_exact(tmp_path: Path) -> None:
    path = tmp_path / "vending.db"
    rng = random.Random(2026)
    tally = Tally()
    machine = await start_machine(path)
    for slot in SLOTS:
        await stock(machine, slot, f"Snack {slot}", PRICE, 10)
        tally.stocked[slot] = 10
    cuts = repeats = 0
    try:
        while cuts < CUTS:
            keys = await one_flow(machine, rng, tally)
            switch = CutSwitch(machine, at=rng.randint(1, MAX_TX),
                               after_commit=rng.random() < 0.5)
            await machine.sim.press(keys)
            await settle(machine)
            if switch.cut:
                cuts += 1
                await pull_the_plug(machine)
                repeats += repeats_on_disk(path)
                machine = await start_machine(path)  # power back: boot recovery
            else:
                switch.at = 0  # the flow ended first: this switch cuts nothing later
            await books_equal_world(machine, tally)
            if await machine.panel_credit():  # what a cut vend left is paid back
                await machine.sim.press("*")
                await settle(machine)
                await books_equal_world(machine, tally)
            if machine.faults.active:  # a technician checks the slots a cut left
                await machine.set_service(True)
                await machine.set_service(False)
        # the cuts did land where the event counter alone cannot tell
        assert repeats >= max(1, CUTS // 16), repeats
    finally:
        await machine.close()
