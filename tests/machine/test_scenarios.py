"""Front-panel scenarios, written as data and run by one driver (harness.run_steps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.machine.harness import Tally, check_conservation, run_steps, running

COLA = {"slot": "A1", "name": "Cola", "cost": 65, "amount": 3}
CHIPS = {"slot": "B2", "name": "Chips", "cost": 100, "amount": 1}

SCENARIOS: dict[str, list[tuple[str, Any]]] = {
    "sale_with_change": [
        ("product", COLA),
        ("expect", {"display": ["HELLO", "INSERT COINS"], "state": "idle"}),
        ("coin", 50), ("coin", 50),
        ("expect", {"display": ["CREDIT 1.00", "SELECT ITEM"], "state": "credit"}),
        ("press", "A1"),
        ("expect", {"tray": ["Cola"], "returned": [20, 10, 5], "credit": 0,
                    "stock": {"A1": 2}, "state": "idle", "display": ["THANK YOU",
                                                                     "TAKE YOUR ITEM"]}),
    ],
    "exact_price_no_change": [
        ("product", CHIPS),
        ("coin", 100), ("press", "B2"),
        ("expect", {"tray": ["Chips"], "returned": [], "credit": 0, "stock": {"B2": 0}}),
        ("coin", 100), ("press", "B2"),
        ("expect", {"display": ["SOLD OUT", "B2 TRY ANOTHER"], "credit": 100,
                    "tray": ["Chips"]}),
        ("press", "*"),
        ("expect", {"returned": [100], "credit": 0, "state": "idle"}),
    ],
    "coin_return": [
        ("coin", 20), ("coin", 10), ("coin", 5),
        ("expect", {"display": ["CREDIT 0.35", "SELECT ITEM"]}),
        ("press", "*"),
        ("expect", {"returned_value": 35, "credit": 0, "state": "idle"}),
    ],
    "too_little_credit": [
        ("product", COLA),
        ("coin", 50), ("press", "A1"),
        ("expect", {"display": ["A1 PRICE 0.65", "CREDIT 0.50"], "tray": [], "credit": 50,
                    "stock": {"A1": 3}}),
        ("coin", 20), ("press", "A1"),
        ("expect", {"tray": ["Cola"], "returned": [5], "credit": 0}),
    ],
    "empty_slot_is_sold_out": [
        ("coin", 100), ("press", "C3"),
        ("expect", {"display": ["SOLD OUT", "C3 TRY ANOTHER"], "credit": 100}),
        ("press", "*"), ("expect", {"returned": [100]}),
    ],
    "jam_charges_nothing_and_marks_slot": [
        ("product", COLA), ("product", {**CHIPS, "cost": 70}),
        ("fault", ("slot:A1", "jam")),
        ("coin", 100), ("press", "A1"),
        ("expect", {"display": ["MAKE ANOTHER", "SELECTION"], "tray": [], "credit": 100,
                    "stock": {"A1": 3}, "slot_status": {"A1": "out_of_order"},
                    "state": "credit"}),
        ("press", "A1"),
        ("expect", {"display": ["SOLD OUT", "A1 TRY ANOTHER"], "credit": 100}),
        ("press", "B2"),
        ("expect", {"tray": ["Chips"], "returned": [20, 10], "credit": 0}),
    ],
    "jam_mid_turn": [
        ("product", COLA), ("fault", ("slot:A1", "jam_turn")),
        ("coin", 100), ("press", "A1"),
        ("expect", {"tray": [], "credit": 100, "slot_status": {"A1": "out_of_order"}}),
        ("press", "*"), ("expect", {"returned": [100], "credit": 0}),
    ],
    "no_drop_after_nudges": [
        ("product", COLA), ("fault", ("slot:A1", "no_drop")),
        ("coin", 100), ("press", "A1"),
        ("expect", {"display": ["MAKE ANOTHER", "SELECTION"], "tray": [], "credit": 100,
                    "stock": {"A1": 3}, "slot_status": {"A1": "out_of_order"}}),
    ],
    "hopper_empty_change_from_the_other_hoppers": [
        ("product", {**COLA, "cost": 100}),
        ("fault", ("hopper:50", "empty")),
        ("coin", 100), ("coin", 50), ("press", "A1"),
        # the 50 hopper pays nothing: the change comes from the 20 and 10 hoppers;
        # only that hopper is out (of change-making), the machine keeps selling
        ("expect", {"tray": ["Cola"], "returned": [20, 20, 10], "credit": 0,
                    "state": "idle", "fault_has": "hopper 50c"}),
        ("coin", 100), ("coin", 50), ("press", "A1"),
        ("expect", {"tray": ["Cola", "Cola"], "returned": [20, 20, 10, 20, 20, 10],
                    "credit": 0}),
    ],
    "hopper_empty_while_paying_change": [
        ("product", {**COLA, "cost": 100}),
        ("refill", (5, 0)), ("refill", (10, 0)), ("refill", (20, 0)),
        ("fault", ("hopper:50", "empty")),
        ("coin", 100), ("coin", 50), ("press", "A1"),
        # the 50 change is owed: it stays as credit; only the hopper is out
        ("expect", {"tray": ["Cola"], "state": "credit",
                    "display": ["THANK YOU", "OWED 0.50"], "fault_has": "hopper 50c",
                    "credit": 50}),
        # the technician clears the hopper and leaves service mode; credit is still there
        ("fault", ("hopper:50", "clear")),
        ("service", True), ("service", False),
        ("expect", {"state": "credit", "credit": 50}),
        ("press", "*"), ("expect", {"credit": 0, "state": "idle", "returned": [50]}),
    ],
    "acceptor_fault_sales_and_coin_return_go_on": [
        ("product", COLA), ("coin", 100),
        ("machine_fault", ("acceptor", "coin acceptor jammed: clear it")),
        ("expect", {"state": "credit", "display": ["CREDIT 1.00", "SELECT ITEM"]}),
        ("press", "A1"),
        ("expect", {"tray": ["Cola"], "returned": [20, 10, 5], "credit": 0, "state": "idle",
                    "fault_has": "acceptor jammed"}),
    ],
    "coin_return_with_a_hopper_at_fault_from_the_others": [
        ("coin", 100),
        ("machine_fault", ("hopper:100", "hopper 100c jam")),
        ("expect", {"state": "credit"}),
        ("press", "*"),
        ("expect", {"returned": [50, 50], "credit": 0, "state": "idle"}),
    ],
    "a_machine_fault_takes_it_out_of_service": [
        ("product", COLA), ("coin", 100),
        ("machine_fault", ("machine", "internal error: check the log")),
        ("expect", {"state": "out_of_service", "display": ["OUT OF SERVICE", "SORRY"]}),
        ("press", "A1"), ("press", "*"),
        ("expect", {"tray": [], "returned": [], "credit": 100, "state": "out_of_service"}),
        ("service", True), ("service", False),
        ("expect", {"state": "credit"}),
        ("press", "*"), ("expect", {"returned": [100], "credit": 0}),
    ],
    "refused_coin_says_why": [
        *[("coin", 100)] * 10,
        ("expect", {"credit": 1000, "display": ["CREDIT 10.00", "SELECT ITEM"]}),
        ("coin", 5), ("wait", 0.3),
        ("expect", {"credit": 1000, "returned": [5], "display": ["MAX CREDIT", "10.00"]}),
    ],
    "exact_change_only": [
        ("refill", (5, 0)), ("refill", (10, 0)), ("refill", (20, 0)),
        ("expect", {"display": ["EXACT CHANGE", "ONLY"]}),
        ("product", {**COLA, "cost": 100}),
        ("coin", 100), ("press", "A1"),
        ("expect", {"tray": ["Cola"], "credit": 0}),
    ],
    "unknown_coin_is_returned": [
        ("coin", 200), ("coin", 50),
        ("expect", {"credit": 50, "returned": [200]}),
        ("press", "*"), ("expect", {"credit": 0, "returned": [200, 50]}),
    ],
    "service_mode_blocks_sales": [
        ("product", COLA), ("coin", 100),
        ("service", True),
        ("expect", {"state": "service", "display": ["SERVICE MODE", ""]}),
        ("coin", 50),
        ("expect", {"credit": 100, "returned": [50]}),
        ("press", "A1"),
        ("expect", {"tray": [], "credit": 100}),
        ("service", False),
        ("expect", {"state": "credit"}),
        ("press", "A1"),
        ("expect", {"tray": ["Cola"], "returned": [50, 20, 10, 5], "credit": 0}),
    ],
    "credit_limit": [
        *[("coin", 100)] * 10,
        ("expect", {"credit": 1000}),
        ("coin", 5),
        ("expect", {"credit": 1000, "returned": [5]}),
    ],
}


@pytest.mark.asyncio
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario(name: str, tmp_path: Path) -> None:
    async with running(tmp_path / "vending.db") as machine:
        tally = Tally()
        await run_steps(machine, SCENARIOS[name], tally)
        await check_conservation(machine, tally)
