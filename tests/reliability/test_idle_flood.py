"""A real ``vending run`` under a flood of idle connections, with a small file limit.

The neighbour opens far more connections than the process may have files
and sends nothing.  The API must keep answering others at once, close the
idle ones by itself, and log no traceback per refused connection.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process import served_port

FILE_LIMIT = 256
HEAD_TIMEOUT_S = 5.0
HEALTH_LIMIT_S = 2.5
"""Well under the head deadline: answered while the flood is held, on a busy CI box too."""
FLOOD = 600
ATTACKERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


def _small_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def _health(port: int, source: str) -> float:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return time.monotonic() - started


async def _open_idle(port: int, source: str) -> tuple[asyncio.StreamReader,
                                                      asyncio.StreamWriter] | None:
    try:
        return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        return None


async def _flood(port: int) -> dict[str, float]:
    conns = [c for c in await asyncio.gather(*[
        _open_idle(port, ATTACKERS[n % len(ATTACKERS)]) for n in range(FLOOD)]) if c]
    await asyncio.sleep(1.0)  # the flood is in (the listen backlog worked through)
    latencies = [await _health(port, "127.0.0.9") for _ in range(10)]
    started = time.monotonic()
    # every idle connection is closed by the server: read() ends
    await asyncio.wait_for(asyncio.gather(*[reader.read() for reader, _ in conns]),
                           HEAD_TIMEOUT_S + 5)
    all_closed_s = time.monotonic() - started
    for _, writer in conns:
        writer.close()
    return {"opened": len(conns), "health_max_s": max(latencies), "all_closed_s": all_closed_s}


@pytest.mark.timeout(90)
def test_an_idle_flood_does_not_starve_the_api(tmp_path: Path) -> None:
    config = tmp_path / "vending.toml"
    config.write_text(f"[api]\nrequest_head_timeout_s = {HEAD_TIMEOUT_S}\n")
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "run", "--config", str(config), "--sim",
             "--db", str(tmp_path / "vending.db"), "--port", "0"],
            stdout=log, stderr=log, preexec_fn=_small_file_limit)
    try:
        deadline = time.monotonic() + 20
        while (port := served_port(log_path)) is None:
            assert proc.poll() is None and time.monotonic() < deadline, \
                log_path.read_text()[-2000:]
            time.sleep(0.05)
        while True:
            try:
                asyncio.run(_health(port, "127.0.0.9"))
                break
            except (OSError, AssertionError):
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.1)
        figures = asyncio.run(_flood(port))
        assert figures["health_max_s"] < HEALTH_LIMIT_S, figures
        assert asyncio.run(_health(port, "127.0.0.2")) < HEALTH_LIMIT_S  # the flood is over
    finally:
        proc.terminate()
        proc.wait(10)
    text = log_path.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert len(text) < 20_000, len(text)
    assert "LimitNOFILE" in text  # it said why it serves fewer connections
