"""The round over a real Mosquitto: ``vending fleet --picklist`` over several simulated
machines, and ``vending fleet ... send`` to a machine online, silent, offline or unknown.

The machines run in this process (the real ``Machine`` on simulated hardware with its
``TelemetryPublisher``); the fleet commands run as ``vending`` processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from controller.accounts import rules as accounts
from controller.accounts.passwords import hash_password
from controller.app import build_machine
from controller.config import Config, TelemetryConfig
from controller.fleet.publisher import TelemetryPublisher
from tests.fleet.mqtt import Broker, retained

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]
PASSWORD_HASH = hash_password("seller-pass-1")


@dataclasses.dataclass
class Member:
    """One machine of the test fleet."""

    machine: Any
    publisher: TelemetryPublisher
    seller: dict[str, Any]
    running: bool = True

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.publisher.close()
            await self.machine.close()


async def start_member(tmp_path: Path, broker: Broker, machine_id: str, *,
                       commands: bool) -> Member:
    base = Config()
    cfg = dataclasses.replace(
        base, machine=dataclasses.replace(base.machine, machine_id=machine_id),
        telemetry=TelemetryConfig(broker=broker.url, commands=commands))
    db = tmp_path / machine_id / "vending.db"
    db.parent.mkdir()
    machine: Any = build_machine(cfg, db)
    await machine.start()
    assert cfg.telemetry is not None
    publisher = TelemetryPublisher(machine, cfg.telemetry)
    await publisher.start()
    await asyncio.wait_for(publisher.connected.wait(), 20)
    new = accounts.NewUser(username=f"seller-{machine_id}", role="seller",
                           password_hash=PASSWORD_HASH)
    seller = await machine.store.tx(lambda db: accounts.create_user(db, new))
    return Member(machine, publisher, {"id": seller["id"], "role": "seller"})


async def stock(member: Member, slot: str, name: str, units: int, min_level: int = 0) -> None:
    await member.machine.products.create(member.seller, {
        "productName": name, "cost": 50, "amountAvailable": units, "slot": slot,
        "minLevel": min_level})


async def until_retained(broker: Broker, topic: str, check: Callable[[Any], bool],
                         timeout_s: float = 20) -> Any:
    """The retained message of ``topic`` once ``check`` holds for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            body = await asyncio.to_thread(retained, broker.port, topic, timeout_s=3)
        except AssertionError:
            body = None
        if body is not None and check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic} never became what the test waits for: {body}")


def slots_of(inventory: dict[str, Any]) -> dict[str, int]:
    return {s["slot"]: s["amountAvailable"] for s in inventory["slots"] if s["productName"]}


async def vending(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "controller.cli", *args], capture_output=True,
        text=True, timeout=90, check=False)


@pytest_asyncio.fixture
async def fleet(tmp_path: Path, broker: Broker) -> AsyncIterator[dict[str, Member]]:
    """RPV0101 (commands off), RPV0102 (commands on) online; RPV0103 stocked, then off."""
    members: dict[str, Member] = {}
    try:
        for machine_id, commands in (("RPV0101", False), ("RPV0102", True),
                                     ("RPV0103", True)):
            members[machine_id] = await start_member(tmp_path, broker, machine_id,
                                                     commands=commands)
        one, two, three = members.values()
        await stock(one, "A1", "Cola", 4, min_level=4)
        await stock(one, "B2", "Crisps", 10)
        await one.machine.set_hopper(50, 150)
        await stock(two, "A1", "Cola", 0, min_level=2)
        await stock(two, "A2", "Water", 8)
        await stock(three, "C3", "Cola", 7)
        expected = {"RPV0101": {"A1": 4, "B2": 10}, "RPV0102": {"A1": 0, "A2": 8},
                    "RPV0103": {"C3": 7}}
        for machine_id, slots in expected.items():
            await until_retained(broker, f"vending/{machine_id}/inventory",
                                 lambda body, want=slots: slots_of(body) == want)
        await until_retained(broker, "vending/RPV0101/inventory",
                             lambda body: {c["coin"]: c["payout"] for c in body["coins"]}[50]
                             == 150)
        await three.stop()
        await until_retained(broker, "vending/RPV0103/status",
                             lambda body: body.get("online") is False)
        yield members
    finally:
        for member in members.values():
            await member.stop()


async def test_the_pick_list_of_a_fleet(fleet: dict[str, Member], broker: Broker) -> None:
    out = await vending("fleet", "--broker", broker.url, "--picklist", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    machines = {m["machine"]: m for m in data["machines"]}
    assert sorted(machines) == ["RPV0101", "RPV0102", "RPV0103"]
    assert [machines[m]["online"] for m in sorted(machines)] == [True, True, False]
    assert machines["RPV0101"]["slots"] == [
        {"slot": "A1", "productName": "Cola", "amountAvailable": 4, "capacity": 10,
         "minLevel": 4, "bring": 6},
        {"slot": "B2", "productName": "Crisps", "amountAvailable": 10, "capacity": 10,
         "minLevel": 0, "bring": 0}]
    assert machines["RPV0102"]["products"] == [{"productName": "Cola", "bring": 10},
                                               {"productName": "Water", "bring": 2}]
    coins_one = {c["coin"]: c["bring"] for c in machines["RPV0101"]["coins"]}
    assert coins_one == {5: 180, 10: 180, 20: 180, 50: 50, 100: 180}
    assert data["total"]["products"] == [{"productName": "Cola", "bring": 19},
                                         {"productName": "Water", "bring": 2},
                                         {"productName": "Crisps", "bring": 0}]
    assert data["total"]["coins"] == [{"coin": 5, "bring": 540}, {"coin": 10, "bring": 540},
                                      {"coin": 20, "bring": 540}, {"coin": 50, "bring": 410},
                                      {"coin": 100, "bring": 540}]

    table = await vending("fleet", "--broker", broker.url, "--picklist")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "RPV0103 (OFFLINE)" in lines and "RPV0101 (online)" in lines
    assert any(line.split() == ["A1", "Cola", "4/10", "4", "6", "LOW"] for line in lines)
    assert any(line.split() == ["A1", "Cola", "0/10", "2", "10", "LOW"] for line in lines)
    assert "ROUND: 3 machines" in lines
    assert any(line.split() == ["Cola", "19"] for line in lines)


async def test_send_a_command_and_print_the_reply(fleet: dict[str, Member],
                                                  broker: Broker) -> None:
    out = await vending("fleet", "--broker", broker.url, "send", "RPV0102", "ping")
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["ok"] is True and reply["result"]["pong"] is True
    assert len(reply["id"]) == 32
    again = json.loads((await vending("fleet", "--broker", broker.url, "send", "RPV0102",
                                      "ping")).stdout)
    assert again["id"] != reply["id"]  # a fresh id each time

    out = await vending("fleet", "--broker", broker.url, "send", "RPV0102", "set_price",
                        '{"slot": "A2", "cost": 120}')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result"]["cost"] == 120
    products = await fleet["RPV0102"].machine.products.list()
    assert {p["slot"]: p["cost"] for p in products}["A2"] == 120

    refused = await vending("fleet", "--broker", broker.url, "send", "RPV0102", "set_price",
                            '{"slot": "A2", "cost": 7}')
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["code"] == "validation_error"


async def test_send_to_a_machine_that_cannot_answer(fleet: dict[str, Member],
                                                    broker: Broker) -> None:
    began = time.monotonic()
    offline = await vending("fleet", "--broker", broker.url, "send", "RPV0103", "ping")
    assert offline.returncode == 1 and offline.stdout == ""
    assert "RPV0103 is offline" in offline.stderr and "nothing sent" in offline.stderr
    unknown = await vending("fleet", "--broker", broker.url, "send", "RPV0999", "ping")
    assert unknown.returncode == 1 and "never reported" in unknown.stderr
    silent = await vending("fleet", "--broker", broker.url, "send", "RPV0101", "ping",
                           "--timeout", "1")
    assert silent.returncode == 1
    assert "no reply from RPV0101 within 1 s" in silent.stderr
    assert time.monotonic() - began < 60
    for bad in ("[1]", "{not json"):
        out = await vending("fleet", "--broker", broker.url, "send", "RPV0102", "ping", bad)
        assert out.returncode == 1 and "ARGS_JSON" in out.stderr, out.stderr
    out = await vending("fleet", "--broker", broker.url, "send", "RPV/#", "ping")
    assert out.returncode == 1 and "not a machine id" in out.stderr
