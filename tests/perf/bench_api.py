"""Benchmark: API throughput against bare aiohttp handlers, and memory under load.

    .venv/bin/python tests/perf/bench_api.py [--seconds 1] [--rounds 10] [--requests 100000]
    .venv/bin/python tests/perf/bench_api.py --short

A real ``vending run`` (simulated machine, five products) and ``bare_server.py``
(bare aiohttp handlers answering the same JSON) run pinned to the same core;
the load generator (``loadgen.py``, 32 keep-alive connections) runs on another.
The two servers take turns, ``--rounds`` times ``--seconds`` each, so both see
the same background.  ``GET /product`` is compared with the bare handler of
the same list, ``GET /user`` (JWT and session check) with the bare handler of the
same user.  Then ``--requests`` mixed requests (product list and product,
user, health, an unknown product) go to the machine and its resident memory is
read after every tenth of them: flat after the first tenth means no growth.

Two ratios: ``ratio`` from the requests answered per second (the median of
the rounds' ratios; other processes on the core skew it), and
``ratio_by_cpu`` from the server processes' CPU time per request (all their
threads, from /proc): what each would serve alone on the core, and far less
sensitive to a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf.common import (
    ROOT,
    emit,
    free_port,
    percentile_ms,
    process_cpu_s,
    rss_mib,
    start_machine,
    stop_machine,
    wait_ready,
)
from tests.perf.loadgen import http_get, run_load

SERVER_CORE, LOAD_CORE = 0, 1


def call(port: int, method: str, path: str, body: Any = None,
         token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def seed_api(port: int) -> dict[str, Any]:
    """A seller with five products and a logged-in buyer."""
    for name, role in (("seller", "seller"), ("buyer", "buyer")):
        call(port, "POST", "/user", {"username": name, "password": f"{name}-pass",
                                     "role": role})
    seller = call(port, "POST", "/login", {"username": "seller", "password": "seller-pass"})
    for n, slot in enumerate(("A1", "A2", "A3", "B1", "B2")):
        call(port, "POST", "/product", {"productName": f"Snack {n}", "cost": 65 + 5 * n,
                                        "amountAvailable": 10, "slot": slot},
             token=seller["accessToken"])
    buyer = call(port, "POST", "/login", {"username": "buyer", "password": "buyer-pass"})
    token = buyer["accessToken"]
    return {"token": token, "products": call(port, "GET", "/product"),
            "user": call(port, "GET", "/user", token=token)}


def pin(pid: int, core: int) -> None:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {core})


async def compare(servers: dict[str, tuple[int, int]], token: str, seconds: float,
                  rounds: int) -> dict[str, Any]:
    """``servers``: "machine" and "bare", each (pid, port)."""
    auth = {"Authorization": f"Bearer {token}"}
    cases = {"product": {"machine": [http_get("/product")], "bare": [http_get("/product")]},
             "user": {"machine": [http_get("/user", auth)], "bare": [http_get("/user")]}}
    out: dict[str, Any] = {}
    for name, requests in cases.items():
        rates: dict[str, list[float]] = {"machine": [], "bare": []}
        cpu_s = {"machine": 0.0, "bare": 0.0}
        served = {"machine": 0, "bare": 0}
        errors = 0
        for _ in range(rounds):
            for who, (pid, port) in servers.items():
                cpu_before = process_cpu_s(pid)
                r = await run_load(port, requests[who], connections=32, seconds=seconds)
                cpu_s[who] += process_cpu_s(pid) - cpu_before
                served[who] += r.requests
                rates[who].append(r.per_s)
                errors += r.errors
        ratios = sorted(m / b for m, b in zip(rates["machine"], rates["bare"], strict=True))
        cpu_us = {who: cpu_s[who] / max(1, served[who]) * 1e6 for who in cpu_s}
        out[f"get_{name}"] = {
            "machine_per_s": round(statistics.median(rates["machine"])),
            "bare_per_s": round(statistics.median(rates["bare"])),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_min_max": [round(ratios[0], 3), round(ratios[-1], 3)],
            "machine_cpu_us_per_request": round(cpu_us["machine"]),
            "bare_cpu_us_per_request": round(cpu_us["bare"]),
            "ratio_by_cpu": round(cpu_us["bare"] / max(1e-9, cpu_us["machine"]), 3),
            "errors": errors}
    return out


async def memory_under_load(pid: int, port: int, token: str, product_id: int,
                            total: int) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    mix = [http_get("/product"), http_get(f"/product/{product_id}"), http_get("/user", auth),
           http_get("/health"), http_get("/product/999999")]
    tenth = max(1, total // 10)
    rss, latencies = [round(rss_mib(pid), 1)], []
    statuses: dict[str, int] = {}
    for _ in range(10):
        r = await run_load(port, mix, connections=32, seconds=600, max_requests=tenth,
                           keep_latencies=True)
        latencies += r.latencies_s
        for status, count in r.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
        rss.append(round(rss_mib(pid), 1))
    return {"requests": tenth * 10, "rss_mib_every_tenth": rss,
            "rss_growth_after_first_tenth_mib": round(rss[-1] - rss[1], 1),
            "latency_p50_ms": percentile_ms(latencies, .5),
            "latency_p99_ms": percentile_ms(latencies, .99),
            "statuses": statuses}  # one request in five is the unknown product: 404


def run(seconds: float, rounds: int, total: int) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "api", "connections": 32,
                              "seconds_per_turn": seconds, "rounds": rounds}
    with tempfile.TemporaryDirectory() as tmp:
        port, bare_port = free_port(), free_port()
        machine = start_machine(Path(tmp) / "api.db", port)
        bare = None
        try:
            wait_ready(port)
            pin(machine.pid, SERVER_CORE)
            result["rss_at_start_mib"] = round(rss_mib(machine.pid), 1)
            seeded = seed_api(port)
            answers = Path(tmp) / "answers.json"
            answers.write_text(json.dumps({"/product": seeded["products"],
                                           "/user": seeded["user"]}))
            bare = subprocess.Popen([sys.executable, str(ROOT / "tests/perf/bare_server.py"),
                                     str(bare_port), str(answers)], cwd=ROOT)
            pin(bare.pid, SERVER_CORE)
            wait_bare(bare_port)
            pin(0, LOAD_CORE)
            servers = {"machine": (machine.pid, port), "bare": (bare.pid, bare_port)}
            result.update(asyncio.run(compare(servers, seeded["token"], seconds, rounds)))
            result["memory"] = asyncio.run(memory_under_load(
                machine.pid, port, seeded["token"], seeded["products"][0]["id"], total))
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait(10)
            stop_machine(machine)
    return result


def wait_bare(port: int) -> None:
    for _ in range(400):
        try:
            call(port, "GET", "/product")
            return
        except OSError:
            asyncio.run(asyncio.sleep(0.02))
    raise RuntimeError("bare server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--short", action="store_true", help="a few seconds, for the test suite")
    args = parser.parse_args()
    if args.short:
        emit(run(0.3, 1, 2_000))
    else:
        emit(run(args.seconds, args.rounds, args.requests))


if __name__ == "__main__":
    main()
