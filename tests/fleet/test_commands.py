"""Fleet commands over a real Mosquitto: run once, answered, refused when bad."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dex_reader import read_dex
from tests.fleet.mqtt import (
    Broker,
    Subscriber,
    TelemetryServer,
    stock_a1,
    telemetry_config,
    wait_for,
)
from tests.process import cli, login

CMD, REPLY = "vending/RPV0001/cmd", "vending/RPV0001/reply"


@pytest.fixture
def machine(tmp_path: Path, broker: Broker) -> Iterator[tuple[TelemetryServer, Subscriber]]:
    db = tmp_path / "m" / "vending.db"
    db.parent.mkdir()
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    server = TelemetryServer(db, telemetry_config(broker.url, commands=True))
    server.start()
    sub = Subscriber(broker.port, [REPLY, "vending/RPV0001/events"])
    wait_for(lambda: _online(sub, broker), 10, "the machine online")
    try:
        yield server, sub
    finally:
        sub.close()
        server.stop()


def _online(sub: Subscriber, broker: Broker) -> bool:
    from tests.fleet.mqtt import retained

    return bool((retained(broker.port, "vending/RPV0001/status") or {}).get("online"))


def ask(sub: Subscriber, body: Any) -> dict[str, Any]:
    """Send one command and wait for the next reply."""
    before = len(sub.payloads(REPLY))
    sub.publish(CMD, body)
    replies = wait_for(lambda: sub.payloads(REPLY)[before:], 15, f"a reply to {body}")
    reply: dict[str, Any] = replies[0]
    return reply


def price(server: TelemetryServer) -> int:
    return int(server.call("GET", "/product")[0]["cost"])


def test_a_repeated_command_id_runs_once(machine: tuple[TelemetryServer, Subscriber]) -> None:
    server, sub = machine
    stock_a1(server, cost=50)
    first = ask(sub, {"id": "c1", "command": "set_price", "args": {"slot": "A1", "cost": 65}})
    assert first == {"id": "c1", "ok": True,
                     "result": {"slot": "A1", "productId": 1, "cost": 65, "previousCost": 50}}
    assert ask(sub, {"id": "c2", "command": "set_price",
                     "args": {"slot": "A1", "cost": 80}})["ok"] is True
    again = ask(sub, {"id": "c1", "command": "set_price", "args": {"slot": "A1", "cost": 65}})
    assert again == first  # answered from the store
    assert price(server) == 80  # ... and not run again
    token = login(server, "oper", "operator-pass")
    events = server.call("GET", "/machine/events?limit=1000", token=token)
    logged = [e["data"] for e in events if e["kind"] == "fleet_command"]
    assert [(e["id"], e["by"], e["ok"]) for e in logged] == [("c1", "fleet", True),
                                                            ("c2", "fleet", True)]


def test_service_ping_and_audit(machine: tuple[TelemetryServer, Subscriber]) -> None:
    server, sub = machine
    assert ask(sub, {"id": 1, "command": "ping"})["result"]["pong"] is True
    reply = ask(sub, {"id": 2, "command": "service", "args": {"enabled": True}})
    assert reply == {"id": 2, "ok": True, "result": {"state": "service"}}
    assert server.call("GET", "/health")["state"] == "service"
    assert ask(sub, {"id": 3, "command": "service", "args": {"enabled": False}})["ok"]
    assert server.call("GET", "/health")["state"] == "idle"
    report = ask(sub, {"id": 4, "command": "audit", "args": {}})["result"]["report"]
    assert report.startswith("DXS*") and "RPV0001" in report
    reads = int(read_dex(report).singles["EA3"]["EA309"])
    token = login(server, "oper", "operator-pass")
    by_api = read_dex(server.call("GET", "/machine/audit", token=token)).singles["EA3"]
    assert int(by_api["EA309"]) == reads + 1  # the fleet's read counted like any other
    assert by_api["EA310"] == "0"  # no collection yet


BAD = [
    ({"id": "b1", "command": "set_price", "args": {"slot": "A1", "cost": 7}}, "validation_error"),
    ({"id": "b2", "command": "set_price", "args": {"slot": "A1", "cost": 0}}, "validation_error"),
    ({"id": "b3", "command": "set_price", "args": {"slot": "A1", "cost": "65"}},
     "validation_error"),
    ({"id": "b4", "command": "set_price", "args": {"slot": "Z9", "cost": 65}}, "validation_error"),
    ({"id": "b5", "command": "set_price", "args": {"slot": "A2", "cost": 65}}, "not_found"),
    ({"id": "b6", "command": "set_price", "args": {"cost": 65}}, "validation_error"),
    ({"id": "b7", "command": "service", "args": {"enabled": "yes"}}, "validation_error"),
    ({"id": "b8", "command": "reboot"}, "validation_error"),
    ({"id": "b9", "command": "ping", "args": [1]}, "validation_error"),
    ({"command": "ping"}, "validation_error"),
    ("not an object", "validation_error"),
]


def test_a_bad_command_gets_an_error_reply_and_changes_nothing(
        machine: tuple[TelemetryServer, Subscriber]) -> None:
    server, sub = machine
    stock_a1(server, cost=50)
    for body, code in BAD:
        reply = ask(sub, body)
        assert reply["ok"] is False and reply["error"]["code"] == code, (body, reply)
        assert reply["error"]["message"]
        assert reply["id"] == (body.get("id") if isinstance(body, dict) else None)
        assert price(server) == 50
        assert server.call("GET", "/health")["state"] == "idle"
    before = len(sub.payloads(REPLY))
    sub.client.publish(CMD, b"{not json", qos=1).wait_for_publish(5)
    reply = wait_for(lambda: sub.payloads(REPLY)[before:], 15, "the reply to bad JSON")[0]
    assert reply == {"id": None, "ok": False, "error": {"code": "validation_error",
                                                        "message": "the command is not JSON"}}
    # a refused id stays refused: it is answered from the store, not run
    assert ask(sub, {"id": "b1", "command": "ping"})["error"]["code"] == "validation_error"


def test_a_command_sent_while_the_machine_is_off_runs_when_it_is_back(
        machine: tuple[TelemetryServer, Subscriber]) -> None:
    server, sub = machine
    server.stop()
    sub.publish(CMD, {"id": "later", "command": "service", "args": {"enabled": True}})
    server.start()
    reply = wait_for(lambda: sub.payloads(REPLY), 15, "the reply after the restart")[0]
    assert reply == {"id": "later", "ok": True, "result": {"state": "service"}}
    assert server.call("GET", "/health")["state"] == "service"
