"""A device that goes silent at rest is a fault within 5 s, before a customer meets it.

Nobody buys anything: the machine sits idle when a hopper (or the coin
acceptor) stops answering.  The presence poll at rest finds it, ``/health``
and the event log say so within 5 s, change-making leaves the hopper out,
and the fault heals by itself when the device answers again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.machine.harness import start_machine
from tests.machine.test_fault_scope import event_kinds, fault_of, wait_for

pytestmark = pytest.mark.asyncio
SEEN_WITHIN_S = 5.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("device", ["hopper:50", "hopper:5", "acceptor"])
async def test_a_device_silent_at_rest_is_a_fault_within_5_s(tmp_path: Path,
                                                             device: str) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        assert machine.health()["status"] == "ok" and fault_of(machine, device) is None
        await machine.sim.inject_fault(device, "silent")
        started = time.monotonic()
        assert await wait_for(lambda: fault_of(machine, device) is not None, SEEN_WITHIN_S)
        assert time.monotonic() - started <= SEEN_WITHIN_S
        fault = fault_of(machine, device)
        assert fault is not None and not fault["latched"], fault
        assert "not answering" in fault["reason"]
        assert machine.fsm_state == "idle"  # the machine still sells
        await machine.sim.inject_fault(device, "clear")
        assert await wait_for(lambda: fault_of(machine, device) is None, SEEN_WITHIN_S)
        assert await event_kinds(machine, device) == ["fault", "fault_cleared"]
    finally:
        await machine.close()


@pytest.mark.timeout(30)
async def test_the_presence_poll_leaves_a_well_machine_alone(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        bus = machine.sim.simulated_machine.bus
        assert bus is not None
        hopper = bus.hoppers[50]
        polls_before = hopper.entries("rx").count("06 00 01 fe fb")
        assert not await wait_for(lambda: bool(machine.health().get("faults")), 2.5)
        polls = hopper.entries("rx").count("06 00 01 fe fb") - polls_before
        assert 1 <= polls <= 3  # about one simple poll every 2 s: cheap on the bus
    finally:
        await machine.close()
