"""The sale's seams: a second payment medium, and errors that are not the hardware's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.errors import InsufficientFunds
from controller.ops.ledger import read_ledger
from drivers.base import SpiralMatrix, VendResult
from tests.machine.harness import running, settle, stock

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


class FakeReader:
    """A card reader that approves (or denies) and is told how the vend ended."""

    name = "cashless"

    def __init__(self, approve: bool = True) -> None:
        self.approve = approve
        self.calls: list[tuple[str, Any]] = []

    async def request_vend(self, price_cents: int, item: int) -> int | None:
        self.calls.append(("request", (price_cents, item)))
        return price_cents if self.approve else None

    async def vend_succeeded(self, item: int) -> bool:
        self.calls.append(("success", item))
        return True

    async def vend_failed(self, item: int) -> bool:
        self.calls.append(("failure", item))
        return True


async def pending_vends(machine: Any) -> int:
    return int(await machine.store.run(lambda db: db.conn.execute(
        "SELECT COUNT(*) FROM vends WHERE status = 'pending'").fetchone()[0]))


async def test_a_card_sale_moves_no_cash_and_keeps_the_ledger(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        product_id = await stock(machine, "A1", "Cola", 65, 2)
        await settle(machine)
        reader = FakeReader()
        result = await machine.sales.sell_with(reader, product_id)
        assert result.delivered == 1 and result.spent == 65 and result.change == []
        assert reader.calls == [("request", (65, 1)), ("success", 1)]
        assert machine.sim.state()["tray"] == ["Cola"]
        assert await machine.panel_credit() == 0
        assert (await machine.products.get(product_id))["amountAvailable"] == 1
        assert (await machine.store.run(read_ledger)).balanced
        report = await machine.audit_text()  # a paid vend (VA1), not a cash sale (CA2)
        assert "\r\nVA1*65*1*65*1\r\n" in report and "\r\nCA2*0*0*0*0\r\n" in report
        assert "\r\nPA7*11*CA*0*65*0*0*0*0\r\nPA7*11*DA*0*65*1*65*1*65\r\n" in report


async def test_a_denied_or_failed_card_sale_charges_nothing(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        product_id = await stock(machine, "A1", "Cola", 65, 2)
        await settle(machine)
        with pytest.raises(InsufficientFunds):
            await machine.sales.sell_with(FakeReader(approve=False), product_id)
        await machine.sim.inject_fault("slot:A1", "jam")
        reader = FakeReader()
        result = await machine.sales.sell_with(reader, product_id)
        assert result.delivered == 0 and result.spent == 0
        assert reader.calls[-1] == ("failure", 1)
        assert (await machine.products.get(product_id))["amountAvailable"] == 2
        assert await pending_vends(machine) == 0
        assert (await machine.store.run(read_ledger)).balanced


class BrokenSpirals(SpiralMatrix):
    """Spirals whose driver fails with a bug, not a hardware error."""

    def __init__(self, real: SpiralMatrix) -> None:
        self._real = real

    async def start(self) -> None:
        await self._real.start()

    async def vend(self, slot: str) -> VendResult:
        raise RuntimeError("a bug in the spiral driver")

    async def stop_all(self) -> None:
        await self._real.stop_all()

    async def close(self) -> None:
        await self._real.close()


async def test_a_vend_that_fails_with_a_bug_is_settled_not_left_pending(tmp_path: Path) -> None:
    async with running(tmp_path / "v.db") as machine:
        await stock(machine, "A1", "Cola", 65, 2)
        await machine.sim.insert_coin(100)
        assert machine.sales.spirals is not None
        machine.sales.spirals = BrokenSpirals(machine.sales.spirals)
        await machine.sim.press("A1")
        await settle(machine)
        assert await pending_vends(machine) == 0
        assert await machine.panel_credit() == 100  # nothing charged
        state = await machine.state_json()
        slot = next(s for s in state["slots"] if s["slot"] == "A1")
        assert slot["status"] == "out_of_order" and slot["product"]["amountAvailable"] == 2
        assert any("a bug in the spiral driver" in f["reason"] for f in state["faults"])
        assert state["ledgerBalanced"]
