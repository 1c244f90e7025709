"""Benchmark: how fast a change reaches a live page (the 100 ms promise of the pages).

    .venv/bin/python tests/perf/bench_live.py [--short]

Runs the built-in simulated machine and the API in this process on a free
port, opens ``/live/panel`` like the web front panel does, and measures, from
the moment the machine publishes a change (the event's timestamp) to the
moment the page's socket has the message:

- an LCD change (sent as it is);
- a stock change (the page's machine view read again);
- a real coin through the simulated acceptor: its credit (machine view) and
  the LCD that follows it.

Prints one JSON object; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from controller.app import build_machine  # noqa: E402
from controller.config import Config  # noqa: E402

ROUNDS = 200
COINS = 20
SHORT = "--short" in sys.argv[1:]  # a few rounds: the suite checks the script still runs
if SHORT:
    ROUNDS, COINS = 20, 3


def figures(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples_s)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 2), "max_ms": round(ms[-1], 2)}


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> tuple[dict[str, Any], float]:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 5)
        if message["type"] == kind:
            return message, time.time()


async def published(machine: Any, kinds: set[str], rounds: int,
                    ws: aiohttp.ClientWebSocketResponse, reply: str) -> list[float]:
    out = []
    for n in range(rounds):
        kind = next(iter(kinds))
        sent = time.time()
        if kind == "display":
            machine.stream.publish("display", lines=[f"BENCH {n}", ""])
        else:
            machine.stream.publish("stock", slot="A1")
        _message, got = await next_of(ws, reply)
        out.append(got - sent)
        await asyncio.sleep(0.005)
    return out


async def real_coins(machine: Any, session: aiohttp.ClientSession, base: str,
                     ws: aiohttp.ClientWebSocketResponse) -> tuple[list[float], list[float]]:
    """Coins through the acceptor; a reader stamps each message as it arrives."""
    arrived: list[tuple[float, dict[str, Any]]] = []

    async def read() -> None:
        async for message in ws:
            arrived.append((time.time(), json.loads(message.data)))

    reader = asyncio.create_task(read())
    credit_s, lcd_s = [], []
    with machine.stream.subscribe(["credit", "display"]) as sub:
        for _ in range(COINS):
            async with session.post(f"{base}/sim/coin", json={"coin": 5}) as r:
                assert r.status == 200, await r.text()
            await asyncio.sleep(0.1)  # the LCD follows the credit; the page gets both
            events = []
            while (event := sub.get_nowait()) is not None:
                events.append(event)
            credit = next(e for e in events if e.kind == "credit")
            display = next(e for e in events if e.kind == "display")
            credit_s.append(min(t for t, m in arrived if m["type"] == "machine" and
                                m["machine"]["panelCredit"] == credit.data["cents"]) - credit.ts)
            lcd_s.append(min(t for t, m in arrived if m["type"] == "display" and
                             m["lines"] == display.data["lines"]) - display.ts)
        async with session.post(f"{base}/sim/press", json={"keys": "*"}) as r:
            assert r.status == 200
    reader.cancel()
    return credit_s, lcd_s


async def run(folder: Path) -> dict[str, Any]:
    machine = build_machine(Config(), folder / "vending.db")
    await machine.start()
    server = TestServer(create_app(machine))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{base}/live/panel", headers={"Origin": base}) as ws:
            await next_of(ws, "snapshot")
            lcd = await published(machine, {"display"}, ROUNDS, ws, "display")
            stock = await published(machine, {"stock"}, ROUNDS, ws, "machine")
            credit, coin_lcd = await real_coins(machine, session, base, ws)
    finally:
        await server.close()
        await machine.close()
    return {"lcd_change": figures(lcd), "stock_change": figures(stock),
            "coin_credit": figures(credit),
            "coin_lcd": figures(coin_lcd)}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(run(Path(folder)))
    print(json.dumps({"live_page_update_latency": result}, indent=1))


if __name__ == "__main__":
    main()
