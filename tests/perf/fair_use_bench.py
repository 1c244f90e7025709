"""Benchmark: the operator against neighbours that crowd the API; prints JSON figures.

    .venv/bin/python tests/perf/fair_use_bench.py

Starts a real ``vending run`` (simulated hardware, default limits: 1024
connections, 64 per address) on a free port, makes an operator with the CLI,
then measures from other loopback addresses, each attack as it was seen:
- 4 addresses x 256 kept-alive connections, ``GET /health`` every 10 s;
- 16 addresses x 64 of them (the whole table);
- 16 addresses x 64 connections that send only a blank line every 15 s;
- 8 addresses x 8 unauthenticated ``/live/console`` sockets pinging every 4 s;
- 100 logins of one account (session build-up);
- 60 parallel wrong passwords from one address.
During each, the operator logs in from 127.0.0.200 (a new connection each time).
Every loop is bounded; traffic stays on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
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
DESK = "127.0.0.200"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _login(url: str, password: str = PASSWORD, source: str = DESK
                 ) -> tuple[int, float, dict[str, Any]]:
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s, \
            s.post(url + "/login", json={"username": OPERATOR, "password": password}) as r:
        body = await r.json()
        return r.status, time.perf_counter() - started, body


async def _operator_logins(url: str, n: int = 10) -> dict[str, Any]:
    results = [await _login(url) for _ in range(n)]
    times = sorted(t for _, t, _ in results)
    return {"ok": sum(1 for s, _, _ in results if s == 200), "of": n,
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1)}


async def _keeper(port: int, source: str, every_s: float, blank: bool) -> None:
    request = b"\r\n" if blank else b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(1.0)
            continue
        try:
            while not reader.at_eof():
                writer.write(request)
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(every_s):
                        while await reader.read(4096):
                            pass
        except OSError:
            pass
        finally:
            writer.close()
        await asyncio.sleep(1.0)  # refused or closed: it comes back a second later


async def keepers(url: str, port: int, addresses: int, per_address: int, every_s: float,
                  blank: bool = False) -> dict[str, Any]:
    tasks = [asyncio.create_task(_keeper(port, f"127.0.{2 + a // 250}.{1 + a % 250}",
                                         every_s, blank))
             for a in range(addresses) for _ in range(per_address)]
    try:
        await asyncio.sleep(3.0)  # the connections are in
        return await _operator_logins(url)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(1.0)


async def live_squatters(url: str) -> dict[str, Any]:
    sessions, sockets = [], []
    refused = 0
    opened = time.perf_counter()
    try:
        for a in range(8):
            s = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                local_addr=(f"127.0.5.{a + 1}", 0)))
            sessions.append(s)
            for _ in range(10):  # 10 tried, 8 allowed per address
                try:
                    sockets.append(await s.ws_connect(url + "/live/console", heartbeat=4.0,
                                                      headers={"Origin": url}))
                except aiohttp.WSServerHandshakeError:
                    refused += 1
        _, _, body = await _login(url)
        started = time.perf_counter()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                local_addr=(DESK, 0))) as s, \
                s.ws_connect(url + "/live/console", headers={"Origin": url}) as ws:
            await ws.send_json({"token": body["accessToken"]})
            message = await ws.receive_json(timeout=10)
            snapshot_ms = round((time.perf_counter() - started) * 1000, 1)
            started = time.perf_counter()
            async with s.post(url + "/logout", headers={
                    "Authorization": f"Bearer {body['accessToken']}"}) as r:
                assert r.status == 204
            logout_close_ms = round((await _closed_at(ws) - started) * 1000, 1)
            logout_close_code = ws.close_code
        closes = await asyncio.gather(*(_closed_at(ws) for ws in sockets))
        closed_after_s = round(max(closes) - opened, 1)
        codes = sorted({ws.close_code for ws in sockets})
        return {"squatters_open": len(sockets), "squatters_refused": refused,
                "operator_console": message.get("type"), "operator_snapshot_ms": snapshot_ms,
                "console_closed_after_logout_ms": logout_close_ms,
                "console_close_code": logout_close_code,
                "squatters_all_closed_after_s": closed_after_s, "squatters_close_codes": codes}
    finally:
        for ws in sockets:
            await ws.close()
        for s in sessions:
            await s.close()


async def _closed_at(ws: aiohttp.ClientWebSocketResponse) -> float:
    while True:
        message = await ws.receive(timeout=30)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            return time.perf_counter()


async def session_build_up(url: str) -> dict[str, Any]:
    quiet = (await _operator_logins(url, 5))["p50_ms"]
    answers = [await _login(url) for _ in range(100)]
    after = await _operator_logins(url, 5)
    return {"logins": len(answers), "other_sessions_reported": answers[-1][2]["activeSessions"],
            "login_p50_ms_before": quiet, "login_p50_ms_after": after["p50_ms"]}


async def parallel_guesses(url: str) -> dict[str, Any]:
    results = await asyncio.gather(*(_login(url, f"wrong-{n}", "127.0.6.1")
                                     for n in range(60)))
    statuses = [s for s, _, _ in results]
    return {"checked": statuses.count(401), "refused": statuses.count(429)}


async def run(url: str, port: int) -> dict[str, Any]:
    for _ in range(200):
        with contextlib.suppress(OSError, aiohttp.ClientError):
            if (await _login(url))[0] == 200:
                break
        await asyncio.sleep(0.1)
    figures: dict[str, Any] = {"quiet": await _operator_logins(url)}
    figures["keepalive_4x256"] = await keepers(url, port, 4, 256, 10.0)
    figures["keepalive_16x64"] = await keepers(url, port, 16, 64, 10.0)
    figures["blank_lines_16x64"] = await keepers(url, port, 16, 64, 15.0, blank=True)
    figures["live_sockets_8x8"] = await live_squatters(url)
    figures["sessions"] = await session_build_up(url)
    figures["parallel_wrong_passwords_60"] = await parallel_guesses(url)
    return figures


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
