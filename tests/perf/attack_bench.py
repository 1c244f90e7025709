"""Benchmark: the API while a neighbour attacks it; prints JSON figures.

    .venv/bin/python tests/perf/attack_bench.py

Starts a real ``vending run`` (simulated hardware) on a free port, makes an
operator with the CLI, then measures from other loopback addresses:
- the operator's login latency from her desk (127.0.0.3), first in quiet, then while 127.0.0.2
  guesses her password with 20 requests in flight all the time;
- 150 parallel correct logins from one address (time until all are in);
- ``GET /health`` latency from 127.0.0.9 while 600 idle connections are held.
Every loop is bounded; traffic stays on loopback.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

OPERATOR, PASSWORD = "oper", "operator-pass-42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(source: str, limit: int = 100) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0),
                                                                limit=limit))


async def _login(s: aiohttp.ClientSession, url: str, password: str) -> int:
    async with s.post(url + "/login", json={"username": OPERATOR, "password": password}) as r:
        await r.read()
        return r.status


async def _wait_up(url: str) -> None:
    async with _session("127.0.0.9") as s:
        for _ in range(200):
            try:
                async with s.get(url + "/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def quiet_logins(url: str) -> dict[str, Any]:
    async with _session("127.0.0.3") as desk:
        latencies = []
        for _ in range(30):
            started = time.perf_counter()
            assert await _login(desk, url, PASSWORD) == 200
            latencies.append(time.perf_counter() - started)
    return {"operator_login_quiet_p50_ms": round(statistics.median(latencies) * 1000, 1)}


async def login_under_attack(url: str) -> dict[str, Any]:
    stop = asyncio.Event()
    answers: dict[int, int] = {}

    async def guesser(s: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            status = await _login(s, url, "wrong-guess-123")
            answers[status] = answers.get(status, 0) + 1

    async with _session("127.0.0.2") as attacker, _session("127.0.0.3") as desk:
        tasks = [asyncio.create_task(guesser(attacker)) for _ in range(20)]
        await asyncio.sleep(1.0)
        latencies, statuses = [], []
        for _ in range(30):
            started = time.perf_counter()
            statuses.append(await _login(desk, url, PASSWORD))
            latencies.append(time.perf_counter() - started)
        stop.set()
        await asyncio.gather(*tasks)
    latencies.sort()
    return {"operator_logins_ok": statuses.count(200), "operator_logins": len(statuses),
            "operator_login_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "operator_login_p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
            "attacker_answers": answers}


async def parallel_logins(url: str) -> dict[str, Any]:
    async with _session("127.0.0.4", limit=150) as s:
        started = time.perf_counter()
        statuses = await asyncio.gather(*[_login(s, url, PASSWORD) for _ in range(150)])
        elapsed = time.perf_counter() - started
    return {"parallel_logins_ok": statuses.count(200), "parallel_logins": len(statuses),
            "parallel_logins_s": round(elapsed, 2)}


async def health_during_idle_flood(port: int) -> dict[str, Any]:
    conns = []
    for n in range(600):
        try:
            conns.append(await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(f"127.0.1.{1 + n % 6}", 0)))
        except OSError:
            break
    latencies = []
    async with _session("127.0.0.9") as s:
        for _ in range(20):
            started = time.perf_counter()
            async with s.get(f"http://127.0.0.1:{port}/health") as r:
                await r.read()
                assert r.status == 200
            latencies.append(time.perf_counter() - started)
    for _, writer in conns:
        writer.close()
    return {"idle_connections_opened": len(conns),
            "health_during_flood_max_ms": round(max(latencies) * 1000, 1)}


async def run(url: str, port: int) -> dict[str, Any]:
    await _wait_up(url)
    return {**await quiet_logins(url), **await login_under_attack(url),
            **await parallel_logins(url), **await health_during_idle_flood(port)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "vending.db"
        subprocess.run([sys.executable, "-m", "controller.cli", "user", "add", OPERATOR,
                        "--role", "operator", "--password-stdin", "--db", str(db)],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "run", "--db", str(db),
                                 "--port", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            figures = asyncio.run(run(f"http://127.0.0.1:{port}", port))
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
