"""Benchmark: a simulated machine whose money goes through MDB (changer + bill validator).

    .venv/bin/python tests/perf/bench_mdb.py [--seconds 10] [--coins 100]

Prints JSON figures:
1. the poll interval of each MDB device while the machine is idle (MDB asks for
   25-200 ms; the budget is 200 ms): mean, p99 and max of the gaps between two
   answered POLLs, read from each device's ``last_poll_at``;
2. coin inserted at the simulated changer to its credit on the LCD: p50, p99
   and max over ``--coins`` coins (budget p99 <= 250 ms in the simulator);
3. idle CPU of a real ``vending run`` process with the MDB devices and with the
   built-in ccTalk machine, over ``--seconds`` each (budget: MDB no more).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.app import build_machine
from controller.config import parse
from controller.machine import Machine
from drivers.mdb.changer_parts import ChangerAcceptor
from tests.perf.common import (
    ROOT,
    emit,
    free_port,
    percentile_ms,
    process_cpu_s,
    stop_machine,
    wait_ready,
)

MDB_TOML = ('[mdb]\nport = "/dev/null"\n[acceptor]\nkind = "mdb"\n'
            '[bills]\naccept_cents = [500, 1000]\n')


def mdb_config() -> Any:
    return parse({"mdb": {}, "acceptor": {"kind": "mdb"},
                  "bills": {"accept_cents": [500, 1000]}}, "(benchmark)")


async def poll_gaps(machine: Machine, seconds: float) -> dict[str, Any]:
    assert machine.devices is not None and isinstance(machine.devices.acceptor, ChangerAcceptor)
    devices = {"changer": machine.devices.acceptor.changer, "bills": machine.devices.bills}
    seen: dict[str, list[float]] = {name: [] for name in devices}
    last: dict[str, float | None] = {name: None for name in devices}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for name, device in devices.items():
            at = device.last_poll_at if device is not None else None
            if at is not None and at != last[name]:
                seen[name].append(at)
                last[name] = at
        await asyncio.sleep(0.002)
    out: dict[str, Any] = {}
    for name, stamps in seen.items():
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        out[name] = {"polls": len(stamps), "mean_ms": round(statistics.mean(gaps) * 1e3, 1),
                     "p99_ms": percentile_ms(gaps, 0.99),
                     "max_ms": round(max(gaps) * 1e3, 1)} if gaps else {"polls": len(stamps)}
    return out


async def coin_to_lcd(machine: Machine, coins: int) -> dict[str, Any]:
    assert machine.sim is not None and machine.sim.simulated_machine.mdb is not None
    changer = machine.sim.simulated_machine.mdb.changer
    assert changer is not None
    latencies: list[float] = []
    for i in range(coins):
        if i % 9 == 0 and i:
            await machine.sim.press("*")  # pay the credit back: the next coins fit again
            await machine.settled()
        await machine.acceptor_synced()
        credit = await machine.panel_credit()
        want = f"CREDIT {(credit + 10) / 100:.2f}"
        started = time.monotonic()
        assert changer.insert(10) == "accepted"
        while want not in " ".join(machine.sim.state()["display"]):
            if time.monotonic() - started > 5:
                raise RuntimeError(f"no {want!r} on the LCD")
            await asyncio.sleep(0.001)
        latencies.append(time.monotonic() - started)
    return {"coins": len(latencies), "p50_ms": percentile_ms(latencies, 0.5),
            "p99_ms": percentile_ms(latencies, 0.99),
            "max_ms": round(max(latencies) * 1e3, 1)}


async def in_process(seconds: float, coins: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        machine = build_machine(mdb_config(), Path(tmp) / "bench.db")
        await machine.start()
        try:
            await asyncio.sleep(1.0)
            gaps = await poll_gaps(machine, seconds)
            lcd = await coin_to_lcd(machine, coins)
        finally:
            await machine.close()
    return {"idle_poll_interval": gaps, "coin_to_lcd_credit": lcd}


def idle_cpu_percent(config_text: str | None, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "idle.db", free_port()
        args = [sys.executable, "-m", "controller.cli", "run", "--db", str(db),
                "--port", str(port), "--log-level", "WARNING"]
        if config_text is not None:
            path = Path(tmp) / "machine.toml"
            path.write_text(config_text)
            args += ["--config", str(path)]
        with open(Path(tmp) / "server.log", "ab") as log_file:
            proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            wait_ready(port)
            time.sleep(2.0)
            before = process_cpu_s(proc.pid)
            time.sleep(seconds)
            return round((process_cpu_s(proc.pid) - before) / seconds * 100, 2)
        finally:
            stop_machine(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--coins", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(in_process(args.seconds, args.coins))
    result["idle_cpu_percent"] = {"mdb": idle_cpu_percent(MDB_TOML, args.seconds),
                                  "cctalk": idle_cpu_percent(None, args.seconds)}
    result["budgets"] = {"idle_poll_interval_max_ms": 200, "coin_to_lcd_p99_ms": 250,
                         "idle_cpu": "mdb <= cctalk"}
    emit(result)


if __name__ == "__main__":
    main()
