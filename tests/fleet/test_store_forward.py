"""Store and forward against a real Mosquitto: no event lost, every event in id order."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.mqtt import (
    Broker,
    Subscriber,
    TelemetryServer,
    retained,
    sell_a1,
    stock_a1,
    telemetry_config,
    wait_for,
)
from tests.process import Server, cli, login


def operator_db(tmp_path: Path) -> Path:
    db = tmp_path / "m" / "vending.db"
    db.parent.mkdir()
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    return db


def logged_ids(server: Server) -> list[int]:
    token = login(server, "oper", "operator-pass")
    ids: list[int] = []
    while True:
        page = server.call("GET", f"/machine/events?after={ids[-1] if ids else 0}&limit=1000",
                           token=token)
        if not page:
            return ids
        ids.extend(int(e["id"]) for e in page)


def assert_all_in_order(received: list[dict[str, Any]], logged: list[int]) -> None:
    """Every logged event arrived; first arrivals in id order (repeats allowed)."""
    first_seen: list[int] = []
    for event in received:
        if event["id"] not in first_seen:
            first_seen.append(event["id"])
    assert first_seen == sorted(first_seen), "events arrived out of id order"
    assert set(logged) <= set(first_seen), f"lost: {sorted(set(logged) - set(first_seen))}"


def test_sales_while_the_broker_is_down_arrive_in_order(tmp_path: Path, broker: Broker) -> None:
    sub = Subscriber(broker.port, ["vending/RPV0001/events"])
    server = TelemetryServer(operator_db(tmp_path), telemetry_config(broker.url))
    server.start()
    try:
        stock_a1(server)
        sell_a1(server)
        wait_for(lambda: sub.payloads("events"), 10, "the first events")
        broker.stop()
        sell_a1(server)  # the sale is not slowed by a dead broker
        sell_a1(server)
        while_down = logged_ids(server)
        broker.start()
        sub.wait_connected()
        wait_for(lambda: {e["id"] for e in sub.payloads("events")} >= set(while_down), 20,
                 "the events of the outage")
        assert_all_in_order(sub.payloads("events"), logged_ids(server))
        kinds = [e["kind"] for e in sub.payloads("events")]
        assert kinds.count("vend_delivered") >= 3
        event = sub.payloads("events")[-1]
        assert set(event) == {"id", "ts", "kind", "data"}
    finally:
        server.stop()
        sub.close()


def test_sigkill_and_restart_resends_what_was_not_acknowledged(tmp_path: Path,
                                                                broker: Broker) -> None:
    server = TelemetryServer(operator_db(tmp_path), telemetry_config(broker.url))
    sub = Subscriber(broker.port, ["vending/RPV0001/events"])  # its session outlives the broker
    broker.stop()  # nothing the machine does now can be acknowledged
    server.start()
    try:
        stock_a1(server)
        sell_a1(server)
        before_kill = logged_ids(server)
        server.kill()
        broker.start()
        sub.wait_connected()
        server.start()
        wait_for(lambda: {e["id"] for e in sub.payloads("events")} >= set(before_kill), 20,
                 "the events from before the kill")
        assert_all_in_order(sub.payloads("events"), logged_ids(server))
        sub.close()
    finally:
        server.stop()


def test_the_retained_will_shows_a_killed_machine_offline(tmp_path: Path,
                                                         broker: Broker) -> None:
    server = TelemetryServer(operator_db(tmp_path), telemetry_config(broker.url))
    server.start()
    try:
        wait_for(lambda: (retained(broker.port, "vending/RPV0001/status") or {}).get("online"),
                 10, "the machine online")
        status = retained(broker.port, "vending/RPV0001/status")
        assert status["state"] == "idle" and status["faults"] == []
        assert {"online", "state", "faults", "version", "ts"} <= set(status)
        server.kill()
        assert wait_for(lambda: retained(broker.port, "vending/RPV0001/status") ==
                        {"online": False}, 10, "the will")
        server.start()
        wait_for(lambda: retained(broker.port, "vending/RPV0001/status").get("online"), 10,
                 "online again")
        before = time.time()
        server.stop()  # a clean stop says so itself, and when
        stopped = retained(broker.port, "vending/RPV0001/status")
        assert stopped["online"] is False and before <= stopped["ts"] <= time.time()
    finally:
        server.stop()


@pytest.mark.timeout(120)
def test_a_long_outage_cuts_the_backlog_with_an_event(tmp_path: Path, broker: Broker) -> None:
    config = telemetry_config(broker.url, max_backlog_events=10)
    server = TelemetryServer(operator_db(tmp_path), config)
    sub = Subscriber(broker.port, ["vending/RPV0001/events"])
    broker.stop()
    server.start()
    try:
        stock_a1(server)
        for _ in range(4):
            sell_a1(server)
        logged = logged_ids(server)
        assert len(logged) > 10
        broker.start()
        cut = wait_for(lambda: [e for e in sub.payloads("events")
                                if e["kind"] == "telemetry_backlog_cut"], 20, "the cut event")
        data = cut[0]["data"]
        assert data["dropped"] == data["toId"] - data["fromId"] + 1 > 0
        wait_for(lambda: {e["id"] for e in sub.payloads("events")} >= {logged[-1]}, 20,
                 "the newest events")
        sent = {e["id"] for e in sub.payloads("events")}
        assert not sent & set(range(data["fromId"], data["toId"] + 1))
        sub.close()
    finally:
        server.stop()
