"""Benchmark: CPU of the simulated machine at rest, start-to-ready time, memory at start.

    .venv/bin/python tests/perf/bench_idle.py [--seconds 20] [--short]

1. A real ``vending run`` process (built-in simulated machine): the seconds from
   the exec to ``GET /health`` answering idle, resident memory then, and the
   CPU of every thread over ``--seconds`` at rest (from /proc, no profiler), as
   a percentage of one core.
2. The same machine in this process with cProfile on the event loop thread for
   the same window at rest: where that CPU goes, per poll loop (the file that
   spent it, library time charged to the project function that called it), split
   into the controller's own share (controller/, drivers/, api/), the
   simulators' share (simulators/) and the event loop's own bookkeeping.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf.common import (
    ROOT,
    emit,
    free_port,
    process_cpu_s,
    rss_mib,
    start_machine,
    stop_machine,
    thread_cpu_s,
    wait_ready,
)

FuncKey = tuple[str, int, str]
PROJECT_DIRS = ("controller", "drivers", "api", "simulators", "tests")
CONTROLLER_DIRS = ("controller/", "drivers/", "api/")  # the firmware; not simulators, not tests


def start_to_ready_s(starts: int) -> list[float]:
    """Seconds from the exec of ``vending run`` (a fresh database) to idle, ``starts`` times."""
    times = []
    for _ in range(starts):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            started = time.monotonic()
            proc = start_machine(Path(tmp) / "ready.db", port)
            try:
                wait_ready(port)
                times.append(round(time.monotonic() - started, 3))
            finally:
                stop_machine(proc)
    return times


def measure_process(seconds: float, warmup_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        started = time.monotonic()
        proc = start_machine(Path(tmp) / "idle.db", port)
        try:
            wait_ready(port)
            ready_s = time.monotonic() - started
            rss_start = rss_mib(proc.pid)
            time.sleep(warmup_s)
            before, total_before = thread_cpu_s(proc.pid), process_cpu_s(proc.pid)
            time.sleep(seconds)
            after, total_after = thread_cpu_s(proc.pid), process_cpu_s(proc.pid)
        finally:
            stop_machine(proc)
    threads = {name: round((after[name] - before.get(name, 0.0)) / seconds * 100, 3)
               for name in after}
    return {"start_to_ready_s": round(ready_s, 3), "rss_at_start_mib": round(rss_start, 1),
            "idle_cpu_percent_of_core": round((total_after - total_before) / seconds * 100, 3),
            "idle_cpu_percent_by_thread": {k: v for k, v in threads.items() if v > 0}}


def _project_part(func: FuncKey) -> str | None:
    path = Path(func[0])
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return None
    return str(rel) if rel.parts and rel.parts[0] in PROJECT_DIRS else None


def charge_to_callers(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per project file; library time goes to its project callers
    (in proportion to the time each caller spent in it; cycles go to the event loop)."""
    table: dict[FuncKey, Any] = stats.stats  # type: ignore[attr-defined]
    memo: dict[FuncKey, dict[str, float]] = {}
    loop_only = {"(event loop)": 1.0}

    def owners(func: FuncKey, visiting: set[FuncKey]) -> dict[str, float]:
        part = _project_part(func)
        if part is not None:
            return {_for_simulators(part, table.get(func, (0, 0, 0, 0, {}))[4]): 1.0}
        if func in memo:
            return memo[func]
        callers = table.get(func, (0, 0, 0, 0, {}))[4]
        total = sum(c[2] for c in callers.values())
        if func in visiting or not callers or total <= 0:
            return loop_only
        visiting.add(func)
        mix: dict[str, float] = {}
        for caller, c in callers.items():
            for owner, share in owners(caller, visiting).items():
                mix[owner] = mix.get(owner, 0.0) + share * c[2] / total
        visiting.discard(func)
        memo[func] = mix
        return mix

    spent: dict[str, float] = {}
    for func, (_, _, own_s, _, _) in table.items():
        if own_s > 0:
            for owner, share in owners(func, set()).items():
                spent[owner] = spent.get(owner, 0.0) + own_s * share
    return spent


def _for_simulators(part: str, callers: dict[FuncKey, Any]) -> str:
    """A firmware helper called by simulators only (the simulated world saving its file
    through ``controller/private_files.py``) is the simulators' time."""
    parts = {_project_part(caller) for caller in callers}
    if (part.startswith(CONTROLLER_DIRS) and parts
            and all(p is not None and p.startswith("simulators/") for p in parts)):
        return f"simulators/ (through {part})"
    return part


async def _profile_at_rest(seconds: float, warmup_s: float) -> pstats.Stats:
    from controller import config as config_mod
    from controller.app import serve

    cfg = config_mod.load(None)
    cfg = replace(cfg, api=replace(cfg.api, port=free_port()))
    stop_holder: list[asyncio.Event] = []
    with tempfile.TemporaryDirectory() as tmp:
        task = asyncio.create_task(serve(cfg, Path(tmp) / "prof.db", stop_holder.append))
        await asyncio.to_thread(wait_ready, cfg.api.port)
        await asyncio.sleep(warmup_s)
        profiler = cProfile.Profile(time.thread_time)  # CPU, not waiting in select
        profiler.enable()
        await asyncio.sleep(seconds)
        profiler.disable()
        stop_holder[0].set()
        await task
    return pstats.Stats(profiler)


def measure_profile(seconds: float, warmup_s: float) -> dict[str, Any]:
    import logging

    logging.basicConfig(level=logging.WARNING)
    stats = asyncio.run(_profile_at_rest(seconds, warmup_s))
    spent = charge_to_callers(stats)
    profiled = sum(spent.values()) or 1e-9
    controller = sum(v for k, v in spent.items() if k.startswith(CONTROLLER_DIRS))
    simulators = sum(v for k, v in spent.items() if k.startswith("simulators"))
    per_file = {k: round(v / seconds * 100, 4)
                for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v / seconds > 1e-5}
    return {"profiled_loop_cpu_percent_of_core": round(profiled / seconds * 100, 3),
            "controller_share": round(controller / profiled, 3),
            "simulators_share": round(simulators / profiled, 3),
            "event_loop_share": round(spent.get("(event loop)", 0.0) / profiled, 3),
            "percent_of_core_by_file": per_file,
            "note": "cProfile slows what it measures; shares matter, not the total"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--short", action="store_true", help="2 s windows, for the test suite")
    args = parser.parse_args()
    seconds, warmup = (2.0, 0.5) if args.short else (args.seconds, 2.0)
    result: dict[str, Any] = {"benchmark": "idle", "seconds_at_rest": seconds}
    result.update(measure_process(seconds, warmup))
    starts = start_to_ready_s(1 if args.short else 5)
    result["start_to_ready_s_each"] = starts
    result["start_to_ready_s_median"] = sorted(starts)[len(starts) // 2]
    profile = measure_profile(seconds, warmup)
    result["profile"] = profile
    own, sims = profile["controller_share"], profile["simulators_share"]
    total = result["idle_cpu_percent_of_core"]
    # the event loop's own share split like the work that woke it
    result["controller_idle_cpu_percent_of_core"] = round(total * own / max(1e-9, own + sims), 3)
    result["simulators_idle_cpu_percent_of_core"] = round(total * sims / max(1e-9, own + sims), 3)
    emit(result)


if __name__ == "__main__":
    main()
