"""Benchmark of fleet telemetry: prints the figures quoted in the README, as JSON.

    .venv/bin/python tests/perf/fleet_bench.py

Starts a real Mosquitto and real ``vending run --sim`` processes on free ports
and measures:

- events per second the publisher sustains: a backlog of ``BACKLOG_EVENTS``
  rows in the event log, sent on connect (read from SQLite, QoS 1 publish,
  broker acknowledgement, mark saved) until the subscriber has them all;
- the delay from a sale to its ``vend_delivered`` event at a subscriber (the
  event's own timestamp to its arrival), p50 and p99 over ``SALES`` sales;
- the CPU of an idle machine with and without telemetry (process CPU time over
  ``IDLE_S`` seconds, from /proc).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from controller.store import open_db  # noqa: E402
from controller.store.db import append_event  # noqa: E402
from tests.fleet.mqtt import (  # noqa: E402
    Broker,
    Subscriber,
    TelemetryServer,
    sell_a1,
    stock_a1,
    telemetry_config,
    wait_for,
)
from tests.process import Server, free_port  # noqa: E402

BACKLOG_EVENTS = 20_000
SALES = 30
IDLE_S = 10.0


def backlog_rate(tmp: Path, broker: Broker) -> dict[str, float]:
    db = tmp / "backlog" / "vending.db"
    db.parent.mkdir()
    conn = open_db(db)
    conn.conn.execute("BEGIN")
    for n in range(BACKLOG_EVENTS):
        append_event(conn, "bench", n=n)
    conn.conn.execute("COMMIT")
    conn.conn.close()
    sub = Subscriber(broker.port, ["vending/RPV0100/events"])
    server = TelemetryServer(db, telemetry_config(broker.url, "RPV0100"))
    try:
        server.start()
        wait_for(lambda: len(sub.payloads("events")) >= BACKLOG_EVENTS, 300, "the backlog")
        arrivals = list(sub.arrivals)
    finally:
        server.stop()
        sub.close()
    span_s = arrivals[BACKLOG_EVENTS - 1] - arrivals[0]
    return {"backlog_events": BACKLOG_EVENTS, "events_per_s": round(BACKLOG_EVENTS / span_s)}


def sale_delay(tmp: Path, broker: Broker) -> dict[str, float]:
    db = tmp / "sales" / "vending.db"
    db.parent.mkdir()
    sub = Subscriber(broker.port, ["vending/RPV0200/events"])
    server = TelemetryServer(db, telemetry_config(broker.url, "RPV0200"))
    try:
        server.start()
        stock_a1(server, cost=50, units=10)
        for n in range(SALES):
            if n and n % 10 == 0:
                seller = server.call("POST", "/login", {"username": "sam",
                                                        "password": "seller-pass"})
                server.call("PUT", "/product/1", {"amountAvailable": 10},
                            seller["accessToken"])
            sell_a1(server)
        wait_for(lambda: len(_delivered(sub)) >= SALES, 30, "every sale's event")
    finally:
        server.stop()
        sub.close()
    delays_ms = sorted((arrived - event["ts"]) * 1000 for event, arrived in _delivered(sub))
    return {"sales": SALES, "sale_to_subscriber_p50_ms": round(statistics.median(delays_ms), 2),
            "sale_to_subscriber_p99_ms": round(
                delays_ms[min(len(delays_ms) - 1, int(len(delays_ms) * 0.99))], 2)}


def _delivered(sub: Subscriber) -> list[tuple[dict[str, Any], float]]:
    out = []
    for (topic, payload, _), arrived in zip(sub.messages, sub.arrivals, strict=False):
        event = json.loads(payload)
        if topic.endswith("events") and event["kind"] == "vend_delivered":
            out.append((event, arrived))
    return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(server: Server) -> float:
    server.start()
    try:
        time.sleep(2.0)  # start-up settles
        assert server.proc is not None
        before = cpu_s(server.proc.pid)
        time.sleep(IDLE_S)
        return (cpu_s(server.proc.pid) - before) / IDLE_S * 100
    finally:
        server.stop()


def idle_cost(tmp: Path, broker: Broker) -> dict[str, float]:
    plain = TelemetryServer(tmp / "idle1" / "vending.db", "")
    with_telemetry = TelemetryServer(tmp / "idle2" / "vending.db",
                                     telemetry_config(broker.url, "RPV0300", commands=True))
    without = idle_cpu(plain)
    with_ = idle_cpu(with_telemetry)
    return {"idle_cpu_percent_without_telemetry": round(without, 2),
            "idle_cpu_percent_with_telemetry": round(with_, 2),
            "idle_cpu_percent_extra": round(with_ - without, 2)}


def main() -> None:
    figures: dict[str, object] = {"python": sys.version.split()[0], "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for d in ("idle1", "idle2"):
            (tmp / d).mkdir()
        broker = Broker(tmp / "broker", free_port())
        broker.start()
        try:
            figures.update(backlog_rate(tmp, broker))
            figures.update(sale_delay(tmp, broker))
            figures.update(idle_cost(tmp, broker))
        finally:
            broker.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
