"""A power cut at every step of a card sale.

The cut comes before and after each store transaction of the card flow
(journaled request, approval with its unit, the vend's settlement with its
outcome, the card vend settled), so also between the journal and the reader.
Only the Pi loses power: the simulated reader keeps its session, its
approval and every charge it settled, as its saved registers.  After the
restart, recovery tells the reader the outcome first; checked from outside,
the card paid at most for what was delivered and never twice, no card vend
stays open, and both ledger identities hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.mdb.reader import SimCashlessReader
from simulators.world import SimWorld
from tests.machine.card_harness import (
    card_books,
    card_config,
    check_card_charges,
    start_card_machine,
    until,
)
from tests.machine.harness import (
    CutSwitch,
    Tally,
    check_conservation,
    pull_the_plug,
    settle,
    start_machine,
    stock,
)
from tests.machine.test_power_cut import silence_in_the_world

PRICE = 150
FLOWS = {"delivered": None, "jammed": ("slot:A1", "jam")}


async def _card_sale(path: Path, flow: str, at: int, after_commit: bool) -> CutSwitch:
    machine = await start_card_machine(path)
    await stock(machine, "A1", "Cola", PRICE, 3)
    assert machine.sim is not None
    if FLOWS[flow] is not None:
        await machine.sim.inject_fault(*FLOWS[flow])  # type: ignore[misc]
    await machine.sim.present_card(500)
    switch = CutSwitch(machine, at=at, after_commit=after_commit)
    await machine.sim.press("A1")
    await settle(machine)
    if not switch.cut:
        await machine.close()
    else:
        await pull_the_plug(machine)
    return switch


CUTS = {"delivered": 4, "jammed": 5}


@pytest.mark.asyncio
@pytest.mark.timeout(30)
@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_card_flow_transaction_count_is_what_the_matrix_covers(flow: str,
                                                                     tmp_path: Path) -> None:
    switch = await _card_sale(tmp_path / "v.db", flow, 10**9, False)
    assert switch.count == CUTS[flow]


@pytest.mark.asyncio
@pytest.mark.timeout(40)
@pytest.mark.parametrize("after_commit", [False, True], ids=["before_commit", "after_commit"])
@pytest.mark.parametrize(("flow", "at"), [(f, n) for f in sorted(CUTS)
                                          for n in range(1, CUTS[f] + 1)])
async def test_card_power_cut(flow: str, at: int, after_commit: bool, tmp_path: Path) -> None:
    path = tmp_path / "vending.db"
    switch = await _card_sale(path, flow, at, after_commit)
    assert switch.cut, "the flow ended before the cut"

    machine = await start_card_machine(path)  # power back: recovery tells the reader first
    try:
        assert machine.sim is not None
        await until(lambda: machine.card_desk is not None and machine.card_desk.reader.ready)
        books = await card_books(machine)
        assert books["open"] == 0, books
        books = await check_card_charges(machine)
        charged = machine.sim.state()["card"]["charged"]
        assert books["owed"] == 0  # the reader kept its power: nothing lost
        if flow == "jammed" or books["unknown"]:
            assert charged == []  # nothing (knowingly) delivered: nothing charged
        else:
            assert charged in ([], [PRICE])
            assert len(charged) == len(books["delivered"])
        if books["unknown"]:  # the coin sale's rule: not charged, the slot flagged
            state = await machine.state_json()
            slot = next(s for s in state["slots"] if s["slot"] == "A1")
            assert slot["status"] == "check"
        await check_conservation(machine, Tally(stocked={"A1": 3}))
        # the reader works on: a new card buys from another slot
        await stock(machine, "B1", "Water", 100, 1)
        await machine.sim.present_card(300)
        await machine.sim.press("B1")
        await settle(machine)
        assert machine.sim.state()["card"]["charged"][-1:] == [100]
        await check_card_charges(machine)
    finally:
        await machine.close()


def _reader_loses_power(path: Path) -> None:
    """The whole machine lost power: the reader reset too (an approval it held counts
    as paid, as real readers do)."""
    world = SimWorld.load_or_create(Path(f"{path}.world.json"), coins=[], slots=[])
    SimCashlessReader(world).power_reset()


@pytest.mark.asyncio
@pytest.mark.timeout(40)
@pytest.mark.parametrize(("flow", "at"), [(f, n) for f in sorted(CUTS)
                                          for n in range(1, CUTS[f] + 1)])
async def test_a_whole_machine_power_cut_leaves_any_refund_on_record(flow: str, at: int,
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "vending.db"
    switch = await _card_sale(path, flow, at, True)
    assert switch.cut
    _reader_loses_power(path)
    machine = await start_card_machine(path)
    try:
        assert machine.sim is not None
        books = await check_card_charges(machine)
        assert books["open"] == 0, books
        charged = machine.sim.state()["card"]["charged"]
        # whatever the card paid for nothing is owed back, on record
        assert books["owed"] == sum(charged) - sum(books["delivered"]), (charged, books)
        if books["owed"]:
            events = await machine.events(0, 1000)
            assert any(e["kind"] == "card_refund_owed" for e in events)
            state = await machine.state_json()
            assert state["reader"]["sales"]["refunds"] == books["owed"]
        await check_conservation(machine, Tally(stocked={"A1": 3}))
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(40)
@pytest.mark.parametrize("at", range(1, CUTS["delivered"] + 1))
async def test_a_card_vend_cut_with_the_reader_silent_waits_for_the_reader(
        at: int, tmp_path: Path) -> None:
    """The power comes back with the reader not answering: the open card vend stays
    open (never guessed, the reader never reset) while the machine sells for coins;
    when the reader answers it is told the outcome first."""
    path = tmp_path / "vending.db"
    switch = await _card_sale(path, "delivered", at, True)
    assert switch.cut
    silence_in_the_world(Path(f"{path}.world.json"), "reader")
    machine = await start_machine(path, card_config())
    try:
        assert machine.sim is not None
        await until(lambda: "reader" in machine.faults.active)
        assert machine.fsm_state == "idle"
        was_open = (await card_books(machine))["open"]
        await machine.sim.inject_fault("reader", "clear")
        await until(lambda: "reader" not in machine.faults.active)
        books = await check_card_charges(machine)
        assert books["open"] == 0 and books["owed"] == 0
        assert was_open == (0 if at == CUTS["delivered"] else 1)
        await check_conservation(machine, Tally(stocked={"A1": 3}))
    finally:
        await machine.close()
