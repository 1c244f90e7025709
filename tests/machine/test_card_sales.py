"""Card sales at the front panel, on the simulated machine with its simulated MDB reader."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controller.machine import Machine
from tests.machine.card_harness import check_card_charges, start_card_machine, until
from tests.machine.harness import Tally, check_conservation, settle, start_machine, stock

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]



async def shows(machine: Machine, lines: list[str]) -> None:
    """Until the LCD shows ``lines``: the machine writes it a character at a time, a
    moment after what it shows happened."""
    assert machine.sim is not None
    deadline = asyncio.get_running_loop().time() + 3
    while machine.sim.state()["display"] != lines:
        assert asyncio.get_running_loop().time() < deadline, machine.sim.state()["display"]
        await asyncio.sleep(0.01)


async def test_a_card_pays_at_the_panel(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        await machine.sim.present_card(500)
        await shows(machine, ["CARD 5.00", "SELECT ITEM"])
        await machine.sim.press("A1")
        await settle(machine)
        state = machine.sim.state()
        assert state["tray"] == ["Cola"]
        assert state["card"] == {"present": False, "charged": [150]}
        assert not machine.card_present()
        books = await check_card_charges(machine)
        assert books == {"delivered": [150], "unknown": [], "open": 0, "owed": 0,
                         "charged": 150}
        await check_conservation(machine, Tally(stocked={"A1": 3}))
        audit = await machine.audit_text()
        assert "CA2*0*0*0*0" in audit  # not a cash sale
        assert "DA1*000000000001*SIMREADER*0100" in audit
        assert "DA2*150*1*150*1" in audit and "DA4*0*0" in audit
        assert "PA7*11*DA*0*150*1*150*1*150" in audit  # the product's card sales
        assert "PA7*11*CA*0*150*0*0*0*0" in audit and "VA1*150*1*150*1" in audit
        reader = (await machine.state_json())["reader"]
        assert reader["sales"]["value"] == 150 and reader["sales"]["count"] == 1
        assert reader["identity"]["manufacturer"] == "SIM"
    finally:
        await machine.close()


async def test_a_declined_card_vends_nothing(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        await machine.sim.present_card(100)  # not enough on the card
        await machine.sim.press("A1")
        await settle(machine)
        await shows(machine, ["CARD DECLINED", ""])
        await machine.sim.inject_fault("reader", "deny")
        await machine.sim.press("A1")
        await settle(machine)
        state = machine.sim.state()
        assert state["tray"] == [] and state["card"]["charged"] == []
        assert (await machine.products.get(1))["amountAvailable"] == 3
        await machine.sim.press("*")  # ends the session
        await until(lambda: not machine.card_present())
        await check_conservation(machine, Tally(stocked={"A1": 3}))
    finally:
        await machine.close()


async def test_coin_credit_that_covers_the_price_pays_first(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 50, 3)
        assert machine.sim is not None
        await machine.sim.present_card(500)
        await machine.sim.insert_coin(50)
        await machine.sim.press("A1")
        await settle(machine)
        state = machine.sim.state()
        assert state["tray"] == ["Cola"] and state["card"]["charged"] == []
        await check_conservation(machine, Tally(inserted=50, stocked={"A1": 3}))
    finally:
        await machine.close()


async def test_a_failed_vend_is_not_charged(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        await machine.sim.inject_fault("slot:A1", "jam")
        await machine.sim.present_card(500)
        await machine.sim.press("A1")
        await settle(machine)
        state = machine.sim.state()
        assert state["tray"] == [] and state["card"]["charged"] == []
        await check_card_charges(machine)
        await check_conservation(machine, Tally(stocked={"A1": 3}))
    finally:
        await machine.close()


async def test_a_silent_reader_stops_card_sales_only(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 50, 3)
        assert machine.sim is not None
        await machine.sim.inject_fault("reader", "silent")
        await until(lambda: "reader" in machine.faults.active)
        assert machine.fsm_state == "idle"
        await machine.sim.insert_coin(50)
        await machine.sim.press("A1")
        await settle(machine)
        assert machine.sim.state()["tray"] == ["Cola"]
        await machine.sim.inject_fault("reader", "clear")
        await until(lambda: "reader" not in machine.faults.active)
    finally:
        await machine.close()


async def test_a_reader_reset_mid_vend_leaves_a_refund_owed_on_record(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        await machine.sim.inject_fault("slot:A1", "jam")
        await machine.sim.present_card(500)
        reader = machine.sim.simulated_machine.reader
        assert reader is not None
        original = reader.handle

        def reset_after_approval(cmd: int, data: bytes) -> bytes:
            answer = original(cmd, data)
            if cmd == 2 and answer[:1] == b"\x05":  # approved: the reader then resets
                reader.power_reset()
            return answer

        reader.handle = reset_after_approval  # type: ignore[method-assign]
        await machine.sim.press("A1")
        await settle(machine)
        reader.handle = original  # type: ignore[method-assign]
        books = await check_card_charges(machine)
        assert machine.sim.state()["card"]["charged"] == [150]
        assert books["owed"] == 150 and books["open"] == 0
        state = await machine.state_json()
        assert state["reader"]["refundsOwed"][0]["cents"] == 150
        events = await machine.events(0, 1000)
        assert any(e["kind"] == "card_refund_owed" for e in events)
        assert "DA4*150*150" in await machine.audit_text()
    finally:
        await machine.close()


async def test_card_sales_reach_the_metrics(tmp_path: Path) -> None:
    from api.metrics import MachineMetrics

    machine = await start_card_machine(tmp_path / "v.db")
    try:
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        metrics = MachineMetrics()
        with machine.stream.subscribe(["card"]) as events:
            await machine.sim.present_card(500)
            await machine.sim.press("A1")
            await settle(machine)
            await until(lambda: not machine.card_present())
            while (event := events.get_nowait()) is not None:
                await metrics.apply(event, machine)  # type: ignore[arg-type]
        text = (await metrics.exposition(wait_s=0)).decode()
        assert 'vending_card_vends_total{told="success"} 1.0' in text
        assert "vending_card_sales_cents_total 150.0" in text
        assert "vending_card_present 0.0" in text
    finally:
        await machine.close()


async def test_a_changer_and_a_reader_share_one_bus(tmp_path: Path) -> None:
    from tests.machine.mdb_rig import mdb_config

    config = mdb_config(cashless={"kind": "mdb", "vend_timeout_s": 5.0})
    machine = await start_machine(tmp_path / "v.db", config)
    try:
        await until(lambda: machine.card_desk is not None
                    and machine.card_desk.reader.reader_state == "enabled")
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        await machine.sim.insert_coin(100)  # coins through the changer
        await machine.sim.press("A1")  # 1.00 does not cover 1.50, no card: the price shows
        await settle(machine)
        await shows(machine, ["A1 PRICE 1.50", "CREDIT 1.00"])
        await machine.sim.present_card(500)
        await machine.sim.press("A1")  # the card pays; the coin credit stays
        await settle(machine)
        state = machine.sim.state()
        assert state["tray"] == ["Cola"] and state["card"]["charged"] == [150]
        assert await machine.panel_credit() == 100
        await machine.sim.press("*")
        await settle(machine)
        assert sum(machine.sim.state()["returned"]) == 100
        assert (await machine.state_json())["ledgerBalanced"]
        await check_card_charges(machine)
    finally:
        await machine.close()


async def test_an_always_idle_reader_takes_the_selection_first(tmp_path: Path) -> None:
    machine = await start_card_machine(tmp_path / "v.db", always_idle=True, vend_timeout_s=5.0)
    try:
        assert machine.card_desk is not None and machine.card_desk.reader.always_idle
        await stock(machine, "A1", "Cola", 150, 3)
        assert machine.sim is not None
        reader = machine.sim.simulated_machine.reader
        assert reader is not None
        keypad = machine.sim.simulated_machine.gpio.keypad
        await keypad.press("A1")  # no card yet: the request waits at the reader
        await until(lambda: reader.reg["state"] == "waiting")
        await shows(machine, ["PRESENT CARD", "A1 1.50"])
        reader.present_card(500)
        await settle(machine)
        await until(lambda: not machine.sim.state()["card"]["present"])
        state = machine.sim.state()
        assert state["tray"] == ["Cola"] and state["card"]["charged"] == [150]
        await check_card_charges(machine)
        await keypad.press("A1")  # nobody comes: cancelled after the timeout
        await until(lambda: reader.reg["state"] == "waiting")
        await settle(machine)
        await until(lambda: reader.reg["state"] == "enabled", 10.0)
        assert machine.sim.state()["card"]["charged"] == [150]
    finally:
        await machine.close()
