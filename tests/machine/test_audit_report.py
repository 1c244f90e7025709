"""The EVA-DTS report of a simulated machine, read back element by element.

Sales, a vend that delivered nothing (its motor jammed), a hopper refill, a read
in service mode, an audited collection and a sale after it: each report is
parsed by the tests' own reader (``tests/dex_reader.py``, from the standard's
rules) and every element the standard's table names is checked, lifetime and
since-reset figures apart.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from controller.machine import Machine
from controller.money import COINS_CENTS
from tests.dex_reader import Report, missing_mandatory, read_dex
from tests.machine.harness import Tally, check_conservation, run_steps, start_machine

CREME = {"slot": "A1", "name": "Crème brûlée*", "cost": 65, "amount": 3}
CHIPS = {"slot": "B2", "name": "Chips", "cost": 100, "amount": 2}


def when(date: str, clock: str) -> float:
    """A DEX date and time (local) as a timestamp."""
    return datetime.strptime(date + clock, "%Y%m%d%H%M%S").timestamp()


def assert_figures(seg: dict[str, str], tag: str, *figures: int, first: int = 1) -> None:
    """Elements ``first``, ``first + 1``... of the segment are these numbers."""
    got = [int(seg[f"{tag}{n:02d}"]) for n in range(first, first + len(figures))]
    assert got == list(figures), (tag, got, figures)


def event(report: Report, code: str) -> tuple[str, str, str]:
    """An event's count since the last reset, since initialisation, and activity."""
    seg = report.events[code]
    return seg["EA202"], seg["EA203"], seg["EA205"]


async def read(machine: Machine) -> tuple[Report, float, float]:
    before = time.time()
    text = await machine.audit_text()
    return read_dex(text), before, time.time()


def assert_read_at(report: Report, before: float, after: float) -> None:
    id5, ea3 = report.singles["ID5"], report.singles["EA3"]
    for at in (when(id5["ID501"], id5["ID502"]), when(ea3["EA302"], ea3["EA303"])):
        assert int(before) <= at <= after


async def hoppers(machine: Machine) -> dict[int, tuple[int, int]]:
    return {c["coin"]: (c["payout"], c["capacity"]) for c in await machine.coin_inventory()
            if c["capacity"] > 0}


def assert_hoppers(report: Report, inventory: dict[int, tuple[int, int]]) -> None:
    assert int(report.singles["CA15"]["CA1501"]) == sum(c * n for c, (n, _) in inventory.items())
    assert set(report.tubes) == set(inventory)
    for coin, (count, capacity) in inventory.items():
        assert_figures(report.tubes[coin], "CA17", COINS_CENTS.index(coin), coin, count, 0, 0,
                       int(count >= capacity))


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_the_report_after_sales_a_failed_vend_a_refill_and_a_collection(
        tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    tally = Tally()
    try:
        sale_start = time.time()
        await run_steps(machine, [
            ("product", CREME), ("product", CHIPS),
            ("coin", 50), ("coin", 50), ("press", "A1"),  # 65, change 35
            ("coin", 100), ("press", "B2"),  # 100
            ("expect", {"stock": {"A1": 2, "B2": 1}}),
            ("fault", ("slot:A1", "jam")),  # the motor never leaves home
            ("coin", 100), ("press", "A1"),
            ("expect", {"slot_status": {"A1": "out_of_order"}, "credit": 100}),
            ("press", "*"), ("expect", {"credit": 0, "state": "idle"}),
        ], tally)
        sale_end = time.time()
        payout_50 = (await hoppers(machine))[50][0]
        await machine.set_hopper(50, payout_50 + 10)  # a refill of 10 x 50c

        report, before, after = await read(machine)
        assert missing_mandatory(report) == []
        assert report.segments[0]["DXS01"] == "RPV0000001"
        assert_read_at(report, before, after)
        s = report.singles
        assert (s["ID1"]["ID101"], s["ID1"]["ID102"], s["ID1"]["ID106"]) == \
            ("RPV0001", "RPIVMC", "RPV0001")
        assert (s["ID4"]["ID401"], s["ID4"]["ID402"], s["ID4"]["ID403"]) == ("2", "1978", "EUR")
        assert s["ID6"]["ID601"] == "1"
        assert_figures(s["VA1"], "VA1", 165, 2, 165, 2)  # since initialisation first
        assert_figures(s["VA3"], "VA3", 0, 0, 0, 0)
        assert_figures(s["CA2"], "CA2", 165, 2, 165, 2)
        ca3 = s["CA3"]  # since the last reset first
        assert int(ca3["CA301"]) == int(ca3["CA305"]) == 300
        assert int(ca3["CA302"]) + int(ca3["CA303"]) == 300
        assert_figures(s["CA4"], "CA4", 135, 0, 135, 0)  # 35 change and 100 paid back
        seed_fill = int(s["CA10"]["CA1001"]) - 500
        assert seed_fill > 0 and int(s["CA10"]["CA1002"]) == seed_fill + 500
        assert_hoppers(report, await hoppers(machine))

        assert len(report.products) == 24  # every selection, with a product or not
        creme = report.products["11"]
        assert_figures(creme.pa1, "PA1", 11, 65)
        assert creme.pa1["PA103"] == "Creme brulee^2A^"
        assert (creme.pa1["PA104"], creme.pa1["PA107"], creme.pa1["PA108"],
                creme.pa1["PA109"]) == ("10", "1", "2", "0")  # motor not seen: not present
        assert_figures(creme.one("PA2"), "PA2", 1, 65, 1, 65)
        assert_figures(creme.one("PA4"), "PA4", 0)
        pa5 = creme.one("PA5")
        assert int(sale_start) <= when(pa5["PA501"], pa5["PA502"]) <= sale_end
        (cash,) = creme.blocks["PA7"]
        assert (cash["PA701"], cash["PA702"], cash["PA703"]) == ("11", "CA", "0")
        assert_figures(cash, "PA7", 0, 65, 1, 65, 1, 65, first=3)
        chips = report.products["22"]
        assert (chips.pa1["PA102"], chips.pa1["PA103"], chips.pa1["PA107"],
                chips.pa1["PA108"]) == ("100", "Chips", "0", "1")
        empty = report.products["12"]
        assert (empty.pa1["PA102"], empty.pa1["PA107"], empty.pa1["PA108"]) == ("", "0", "0")
        assert "PA5" not in empty.blocks and empty.one("PA7")["PA705"] == "0"

        assert set(report.events) == {"ELA", "EJB"}  # not EJL: the drop sensor is fine
        assert event(report, "ELA") == ("1", "1", "1")  # active: the slot is out of order
        assert event(report, "EJB") == ("1", "1", "1")
        ea3 = s["EA3"]
        assert (ea3["EA305"], ea3["EA309"], ea3["EA310"]) == ("", "1", "0")

        await machine.set_service(True)  # the door is open
        in_service, _, _ = await read(machine)
        assert event(in_service, "EGS") == ("1", "1", "1")
        collected = await machine.collect_cashbox()
        assert collected == int(ca3["CA302"])  # the cashbox holds what went to it
        await machine.set_service(False)  # faults cleared, the door shut
        await run_steps(machine, [("coin", 100), ("press", "B2"),
                                  ("expect", {"stock": {"B2": 0}})], tally)

        after_reset, before, after = await read(machine)
        assert missing_mandatory(after_reset) == []
        assert_read_at(after_reset, before, after)
        s = after_reset.singles
        assert s["ID6"]["ID601"] == "2"  # a new cash bag since the collection
        assert_figures(s["VA1"], "VA1", 265, 3, 100, 1)
        assert_figures(s["CA2"], "CA2", 265, 3, 100, 1)
        assert int(s["CA3"]["CA301"]) == 100 and int(s["CA3"]["CA305"]) == 400
        assert_figures(s["CA4"], "CA4", 0, 0, 135, 0)
        assert_figures(s["CA10"], "CA10", 0, seed_fill + 500)
        assert_figures(after_reset.products["22"].one("PA2"), "PA2", 2, 200, 1, 100)
        assert_figures(after_reset.products["22"].one("PA7"), "PA7", 0, 100, 2, 200, 1, 100,
                       first=3)
        assert_figures(after_reset.products["11"].one("PA2"), "PA2", 1, 65, 0, 0)
        assert after_reset.products["11"].pa1["PA107"] == "0"  # checked and cleared
        assert after_reset.events == {}  # nothing since the reset, nothing active
        ea3 = s["EA3"]
        assert (ea3["EA309"], ea3["EA310"]) == ("3", "1")
        first = report.singles["EA3"]
        assert (ea3["EA305"], ea3["EA306"]) == (in_service.singles["EA3"]["EA302"],
                                                in_service.singles["EA3"]["EA303"])
        assert first["EA302"] <= ea3["EA305"]
        await check_conservation(machine, tally)
    finally:
        await machine.close()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_events_say_what_failed_and_whether_it_still_is(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    tally = Tally()
    try:
        await run_steps(machine, [
            ("product", {**CHIPS, "slot": "A1"}), ("product", CHIPS),
            ("fault", ("hopper:50", "jam")),  # it jams after its first coin
            ("coin", 50), ("coin", 50), ("coin", 50), ("coin", 50),
            ("refill", (100, 0)), ("press", "A1"),  # change of 1.00: two 50c coins
            ("expect", {"tray": ["Chips"], "credit": 0, "fault_has": "hopper 50c"}),
            ("fault", ("slot:B2", "no_drop")),  # turns, nothing falls
            ("coin", 100), ("press", "B2"), ("press", "*"),
            ("expect", {"slot_status": {"B2": "out_of_order"}, "credit": 0}),
        ], tally)
        report, _, _ = await read(machine)
        assert set(report.events) == {"EAF", "ELA"}  # no EJB/EJC: no motor jammed
        assert event(report, "EAF") == ("1", "1", "1")
        assert event(report, "ELA") == ("1", "1", "1")
        assert report.products["22"].pa1["PA107"] == "0"  # the motor turned: present

        await run_steps(machine, [("fault", ("hopper:50", "clear"))], tally)
        await machine.set_hopper(50, (await hoppers(machine))[50][0])  # counted: fault gone
        report, _, _ = await read(machine)
        assert event(report, "EAF") == ("1", "1", "0")  # happened, no longer active
        assert event(report, "ELA") == ("1", "1", "1")  # B2 is still out of order
        await check_conservation(machine, tally)
    finally:
        await machine.close()
