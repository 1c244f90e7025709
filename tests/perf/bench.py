"""Benchmark: prints the figures quoted in the README.

    .venv/bin/python tests/perf/bench.py

Starts a real ``vending run`` (simulated hardware) on a free port and measures:
change-making time, API latency and throughput, the time of a whole sale
(deposit + physical vend + change payout), store transactions per second
(synchronous=FULL), and the resident memory of the process.
Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from controller import money  # noqa: E402
from controller.store import Store, credit  # noqa: E402
from controller.store.db import seed  # noqa: E402
from controller.store.inventory import credit_coin  # noqa: E402


def bench_change() -> None:
    rng = random.Random(1)
    inventories = [{c: rng.randint(0, 40) for c in money.COINS_CENTS} for _ in range(200)]
    amounts = [rng.randrange(0, 1001, 5) for _ in range(200)]
    started = time.perf_counter()
    for inv, amount in zip(inventories, amounts, strict=True):
        money.make_change(amount, inv)
    per_call = (time.perf_counter() - started) / len(amounts)
    print(f"change-making (amount <= 10.00, up to 40 coins per value): "
          f"{per_call * 1e6:.0f} us per call")


async def bench_store(path: Path) -> None:
    store = Store(path)
    await store.start()
    await store.run(lambda db: seed(db.conn, slots=[("A1", 10)],
                                    hoppers={c: 200 for c in money.COINS_CENTS}, hopper_fill=20))
    n = 200
    started = time.perf_counter()
    for _ in range(n):
        await store.tx(lambda db: credit_coin(db, 5, credit.PANEL))
    elapsed = time.perf_counter() - started
    await store.close()
    print(f"store: {n / elapsed:.0f} coin-credit transactions/s "
          f"({elapsed / n * 1e3:.2f} ms each, WAL, synchronous=FULL)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(400):
        try:
            async with session.get(url + "/health") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def timed(session: aiohttp.ClientSession, method: str, url: str,
                **kw: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    async with session.request(method, url, **kw) as r:
        body = await r.read()
        if r.status >= 400:
            raise RuntimeError(f"{method} {url}: {r.status} {body[:200]!r}")
    return time.perf_counter() - started, json.loads(body) if body else None


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1e3


def start_machine(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "controller.cli", "run", "--db",
                             str(tmp / "api.db"), "--port", str(port), "--log-level", "WARNING"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def bench_api(proc: subprocess.Popen[bytes], port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as s:
        await wait_up(s, url)
        rss_start = rss_kib(proc.pid)
        await timed(s, "POST", url + "/user", json={"username": "seller", "password":
                                                     "seller-pass", "role": "seller"})
        await timed(s, "POST", url + "/user", json={"username": "buyer", "password":
                                                     "buyer-pass", "role": "buyer"})
        _, st = await timed(s, "POST", url + "/login", json={"username": "seller",
                                                             "password": "seller-pass"})
        _, bt = await timed(s, "POST", url + "/login", json={"username": "buyer",
                                                             "password": "buyer-pass"})
        sh = {"Authorization": f"Bearer {st['accessToken']}"}
        bh = {"Authorization": f"Bearer {bt['accessToken']}"}
        _, product = await timed(s, "POST", url + "/product", headers=sh, json={
            "productName": "Cola", "cost": 65, "amountAvailable": 10, "slot": "A1"})
        # read latency, sequential
        reads = [(await timed(s, "GET", url + "/product"))[0] for _ in range(300)]
        print(f"GET /product: p50 {pct(reads, .5):.2f} ms, p95 {pct(reads, .95):.2f} ms "
              f"(sequential, 300 requests)")
        # read throughput, 20 concurrent clients, bounded count
        n = 2000
        started = time.perf_counter()
        sem = asyncio.Semaphore(20)

        async def one() -> None:
            async with sem:
                await timed(s, "GET", url + "/health")

        await asyncio.gather(*(one() for _ in range(n)))
        print(f"GET /health: {n / (time.perf_counter() - started):.0f} requests/s "
              f"(20 concurrent clients, {n} requests)")
        # authenticated read (token + session check in the store)
        auth = [(await timed(s, "GET", url + "/user", headers=bh))[0] for _ in range(200)]
        print(f"GET /user (JWT + session check): p50 {pct(auth, .5):.2f} ms, "
              f"p95 {pct(auth, .95):.2f} ms")
        # whole sales: deposit a coin, physical vend, change through the hoppers
        deposits, buys = [], []
        for _ in range(8):
            d, _ = await timed(s, "POST", url + "/deposit", headers=bh, json={"coin": 100})
            b, _ = await timed(s, "POST", url + "/buy", headers=bh,
                               json={"productId": product["id"], "amount": 1})
            deposits.append(d)
            buys.append(b)
        print(f"POST /deposit (simulated coin through the ccTalk acceptor): "
              f"median {statistics.median(deposits) * 1e3:.0f} ms")
        print(f"POST /buy (vend + drop + 35c change from 3 hoppers): "
              f"median {statistics.median(buys) * 1e3:.0f} ms")
        rss_end = rss_kib(proc.pid)
        print(f"vending run resident memory: {rss_start / 1024:.1f} MiB after start, "
              f"{rss_end / 1024:.1f} MiB after the run above")


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_change()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_store(Path(tmp) / "store.db"))
        port = free_port()
        proc = start_machine(Path(tmp), port)
        try:
            asyncio.run(bench_api(proc, port))
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
