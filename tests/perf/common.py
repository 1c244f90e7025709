"""Shared plumbing of the benchmarks: a real ``vending run`` process, /proc readings.

Every benchmark under ``tests/perf/`` prints one JSON object on stdout and
takes ``--short`` (a few seconds, for the test suite: shape and sanity, not
figures worth quoting).  Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS_S = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_machine(db: Path, port: int, *, log_level: str = "WARNING",
                  prefix: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """``vending run`` with the built-in simulated machine (``prefix``: e.g. cProfile)."""
    args = [sys.executable, *prefix, "-m", "controller.cli", "run", "--db", str(db),
            "--port", str(port), "--log-level", log_level]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=open(db.parent / "server.log", "ab"))


def wait_ready(port: int, timeout_s: float = 30.0) -> float:
    """Poll ``GET /health`` until the machine answers idle; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if json.loads(r.read())["state"] in ("idle", "credit"):
                    return time.monotonic() - started
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            pass
        time.sleep(0.005)
    raise RuntimeError("the machine did not become ready")


def stop_machine(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of ``pid``, keyed "name/tid"."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        out[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_S
    return out


def process_cpu_s(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_S


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile_ms(values_s: Sequence[float], p: float) -> float:
    ordered = sorted(values_s)
    if not ordered:
        return float("nan")
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1e3, 3)


def emit(result: dict[str, Any]) -> None:
    """Print the result, with the machine's load (other processes skew every figure)."""
    result["cores"] = os.cpu_count()
    result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))
