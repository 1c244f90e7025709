"""A simulated machine starts its ccTalk devices as a third-party host would, and
says who they are: ``GET /machine``, the audit report (``CA1``, ``HA1``).

At start-up the drivers identify every device with the hosts' request
sequence (simple poll, 246, 245, 244, 242, 241, 4, 192; a hopper's coin 171
and dispense count 168 after) and every request gets a well-formed answer:
none is refused or left unanswered by the simulated devices.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.machine import Machine
from simulators.cctalk import SimCctalkDevice
from tests.machine.harness import start_machine

pytestmark = pytest.mark.asyncio

HOSTS_START = [254, 246, 245, 244, 242, 241, 4, 192]


def frames(device: SimCctalkDevice, direction: str) -> list[bytes]:
    return [bytes.fromhex(f) for f in device.entries(direction)]


def bus_devices(machine: Machine) -> list[SimCctalkDevice]:
    bus = machine.sim.simulated_machine.bus
    assert bus is not None
    return [bus.devices[a] for a in sorted(bus.devices)]


@pytest.mark.timeout(30)
async def test_start_up_is_the_hosts_sequence_and_every_request_is_answered(
        tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        devices = bus_devices(machine)
        assert [d.name for d in devices] == ["acceptor", *(f"hopper:{c}"
                                                          for c in (5, 10, 20, 50, 100))]
        for device in devices:
            sent = frames(device, "rx")
            assert [f[3] for f in sent[:len(HOSTS_START)]] == HOSTS_START, device.name
            if device.name.startswith("hopper"):
                assert [f[3] for f in sent[8:10]] == [171, 168], device.name
            replies = frames(device, "tx")
            assert len(replies) == len(sent), device.name  # none left unanswered
            refused = [(s[3], r.hex(" ")) for s, r in zip(sent, replies, strict=True)
                       if r[3] != 0]
            assert refused == [], (device.name, refused)
            assert all(sum(r) % 256 == 0 and r[2] == device.address for r in replies)
    finally:
        await machine.close()


@pytest.mark.timeout(30)
async def test_identity_in_the_machine_state_and_the_audit_report(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    try:
        state = await machine.state_json()
        audit = await machine.audit_text()
    finally:
        await machine.close()
    assert state["acceptor"]["accepting"] in (True, False)  # the field before stays
    acceptor = state["acceptor"]["identity"]
    assert acceptor["category"] == "Coin Acceptor"
    assert (acceptor["manufacturer"], acceptor["productCode"]) == ("Generic", "CCT-16")
    assert (acceptor["softwareRevision"], acceptor["commsRevision"], acceptor["buildCode"]) == (
        "CCT-V2.3", "1.4.2", "EU-STD")
    assert acceptor["serialNumber"] == str(0x030201)  # 01 02 03, LSB first
    hoppers = {h["coin"]: h for h in state["hoppers"]}
    assert sorted(hoppers) == [5, 10, 20, 50, 100]
    flow = hoppers[50]["identity"]
    assert flow["manufacturer"] == "Suzo-Happ" and flow["category"] == "Payout"
    assert flow["softwareRevision"] == "STC2010-V1.1F-PAYOUT" and flow["coinId"] == "EU050A"
    assert flow["serialNumber"] == str(0x0AD7DF + 6 - 3)
    lines = audit.split("\r\n")
    assert f"CA1*{0x030201}*CCT-16*CCT-V2.3" in lines
    ha1 = [line for line in lines if line.startswith("HA1*")]
    assert ha1 == [f"HA1*{0x0AD7DF + i}*Payout*STC2010-V1.1F-PAYOUT" for i in range(5)]


@pytest.mark.timeout(30)
async def test_the_audit_names_the_devices_after_a_restart(tmp_path: Path) -> None:
    machine = await start_machine(tmp_path / "v.db")
    await machine.close()
    machine = await start_machine(tmp_path / "v.db")
    try:
        audit = await machine.audit_text()
    finally:
        await machine.close()
    assert sum(line.startswith("HA1*") for line in audit.split("\r\n")) == 5
