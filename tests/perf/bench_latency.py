"""Benchmark: where a person waits, under background API load; CPU per vend and payout.

    .venv/bin/python tests/perf/bench_latency.py [--keys 60] [--coins 40] [--sales 10]
    .venv/bin/python tests/perf/bench_latency.py --short

The simulated machine and its API run in this process (the same code as
``vending run``); a load generator in a child process sends 200 GET requests
a second to the API meanwhile.  Two clocks:

- controller time, from the machine's event stream: every event carries the
  process's CPU time at publication (``MachineEvent.cpu_s``), so a stimulus
  and the ``display`` event it causes give the CPU the process spent between
  them, whatever else runs on a busy machine.  The process also serves the
  background load and runs the simulators: ``net`` takes off the CPU the
  process spends per second on the background load alone (measured first)
  for the time the stimulus took; ``raw`` is the upper bound;
- wall time, from the simulators' timestamped logs (``time.monotonic()``),
  skewed by every other process on the machine.

Stimuli:

- key to LCD: the simulated key closing (``SimKeypad.log`` "down") to the
  ``display`` event of the LCD update it causes (wall: its last LCD byte,
  ``SimLcd.log`` "data"); includes the keypad's 10 ms debounce;
- coin to credit: the acceptor's poll reply carrying the coin (the simulated
  bus's "tx" of a 229 reply) to the ``display`` event after the ``credit``
  event (the credit is committed to SQLite before the panel redraws); the
  controller time counts from the coin's insertion, less the background's
  share of the wait for the next poll;
- CPU per vend and per payout (no background load): process CPU time
  (``time.process_time``, every thread) from the key that starts it until
  the ``state`` event that says the machine is idle again.  Mechanical time
  costs no CPU, so this is the controller's own time plus the simulated
  devices'; a cProfile pass splits it (library time charged to the project
  file that called it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.events import MachineEvent
from tests.perf.bench_api import seed_api
from tests.perf.bench_idle import CONTROLLER_DIRS, charge_to_callers
from tests.perf.common import ROOT, emit, free_port, percentile_ms

LOAD_PER_S = 200
OPERATOR = {"id": 0, "role": "operator"}
POLL_REPLY_229_BYTES = 16  # dest, len, src, ack, 11 data bytes, checksum


def summary_ms(values_s: list[float]) -> dict[str, float]:
    return {"n": len(values_s), "p50_ms": percentile_ms(values_s, .5),
            "p99_ms": percentile_ms(values_s, .99), "max_ms": percentile_ms(values_s, 1.0)}


class Bench:
    """The in-process machine, its API, its event stream and its simulators' logs."""

    def __init__(self, sim: Any, machine: Any, port: int) -> None:
        self.sim, self.machine, self.port = sim, machine, port
        self.events = machine.stream.subscribe({"display", "credit", "state"})
        self.background_cpu_per_s = 0.0

    def drain(self) -> None:
        while self.events.get_nowait() is not None:
            pass

    async def next_event(self, kind: str, **data: Any) -> MachineEvent:
        """The next event of ``kind`` (whose data has ``data``) on the stream."""
        async with asyncio.timeout(5):
            while True:
                event = await self.events.get()
                if event.kind == kind and all(event.data.get(k) == v for k, v in data.items()):
                    return event

    async def measure_background(self, seconds: float = 1.0) -> None:
        """CPU per second of the process under the background load alone."""
        cpu = time.process_time()
        await asyncio.sleep(seconds)
        self.background_cpu_per_s = (time.process_time() - cpu) / seconds

    def last_lcd_byte(self, since: float) -> float:
        data = [e.t for e in self.sim.gpio.lcd.log.entries("data") if e.t >= since]
        if not data:
            raise RuntimeError("the LCD did not change")
        return float(max(data))

    async def key_to_lcd(self, key: str) -> tuple[float, float, float]:
        """Wall seconds, raw and net controller CPU seconds from a key to the LCD."""
        keypad = self.sim.gpio.keypad
        self.drain()
        cpu, began = time.process_time(), time.time()
        keypad.hold(key)
        pressed = keypad.log.entries("down")[-1].t
        try:
            shown = await self.next_event("display")
        finally:
            keypad.release(key)
            await asyncio.sleep(0.04)  # released and debounced: the keypad waits again
        raw = shown.cpu_s - cpu
        net = raw - self.background_cpu_per_s * (shown.ts - began)
        return self.last_lcd_byte(pressed) - pressed, raw, net

    async def coin_to_credit(self, coin: int) -> tuple[float, float, float]:
        """Wall seconds (poll reply to LCD), raw and net controller CPU seconds."""
        await self.machine.acceptor_synced()
        self.drain()
        cpu, inserted = time.process_time(), time.monotonic()
        if self.sim.bus.acceptor.insert(coin) != "accepted":
            raise RuntimeError(f"coin {coin} not accepted")
        await self.next_event("credit", holder="panel")
        shown = await self.next_event("display")
        replies = [t for t, what, hexed in self.sim.bus.log
                   if what == "tx" and t >= inserted
                   and len(hexed.split()) == POLL_REPLY_229_BYTES]
        if not replies:
            raise RuntimeError("no poll reply with the coin")
        raw = shown.cpu_s - cpu
        net = raw - self.background_cpu_per_s * (replies[0] - inserted)
        return self.last_lcd_byte(inserted) - replies[0], raw, net

    async def press_until_idle(self, keys: str) -> None:
        """Press ``keys`` and wait for the ``state`` event that says idle."""
        self.drain()
        await self.machine.sim.press(keys)
        if self.machine.health()["state"] != "idle":
            await self.next_event("state", state="idle")

    async def cpu_of(self, keys: str, profiler: cProfile.Profile | None) -> tuple[float, float]:
        """CPU seconds and wall seconds from pressing ``keys`` until idle."""
        self.drain()
        cpu, wall = time.process_time(), time.monotonic()
        if profiler is not None:
            profiler.enable()
        await self.machine.sim.press(keys)
        idle = await self.next_event("state", state="idle")
        if profiler is not None:
            profiler.disable()
        return idle.cpu_s - cpu, time.monotonic() - wall

    async def restock(self, slot: str) -> None:
        """The slot full again (an operator's change), so every sale delivers."""
        product = next(p for p in await self.machine.products.list() if p["slot"] == slot)
        if product["amountAvailable"] < 2:
            await self.machine.products.update(OPERATOR, product["id"],
                                               {"amountAvailable": 10})

    async def sale_and_payout(self, vend_prof: cProfile.Profile | None,
                              payout_prof: cProfile.Profile | None) -> tuple[float, ...]:
        """Exact coins and A1 (a vend, no change), then 1.00 and * (a payout)."""
        await self.restock("A1")
        for coin in (50, 10, 5):  # exactly the price of the product in A1 (0.65)
            await self.machine.sim.insert_coin(coin)
        vend_cpu, vend_wall = await self.cpu_of("A1", vend_prof)
        await self.machine.sim.take_tray()
        await self.machine.sim.insert_coin(100)
        payout_cpu, _ = await self.cpu_of("*", payout_prof)
        await self.machine.sim.take_tray()
        return vend_cpu, vend_wall, payout_cpu


async def background_load(port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "tests/perf/background.py"), str(port), str(LOAD_PER_S),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)


async def measure(bench: Bench, keys: int, coins: int, sales: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    load = await background_load(bench.port)
    await asyncio.sleep(0.5)
    await bench.measure_background()
    keys_measured = [await bench.key_to_lcd("A" if n % 2 == 0 else "#") for n in range(keys)]
    coins_measured = []
    for n in range(coins):
        coins_measured.append(await bench.coin_to_credit(5))
        if n % 10 == 9:
            await bench.press_until_idle("*")  # credit back, stay far below max_credit
    await bench.press_until_idle("*")
    rate, errors = (await load.communicate(b""))[0].decode().split()
    out["background_load_per_s"] = LOAD_PER_S
    out["background_answered_per_s"] = int(rate)
    out["background_errors"] = int(errors)
    out["background_cpu_ms_per_s"] = round(bench.background_cpu_per_s * 1e3, 2)
    for name, measured in (("key_to_lcd", keys_measured), ("coin_to_credit", coins_measured)):
        wall, raw, net = zip(*measured, strict=True)
        out[name] = {"wall": summary_ms(list(wall)), "controller_cpu_raw": summary_ms(list(raw)),
                     "controller_cpu_net": summary_ms(list(net))}
    vend_cpu, payout_cpu, vend_wall = [], [], []
    for _ in range(sales):
        vend, wall, payout = await bench.sale_and_payout(None, None)
        vend_cpu.append(vend)
        vend_wall.append(wall)
        payout_cpu.append(payout)
    # where that CPU goes: a separate pass, as cProfile slows what it measures
    vend_prof, payout_prof = (cProfile.Profile(time.thread_time) for _ in range(2))
    for _ in range(2):
        await bench.sale_and_payout(vend_prof, payout_prof)
    out["vend_cpu"] = summary_ms(vend_cpu) | shares(vend_prof, statistics.median(vend_cpu))
    out["vend_wall_median_ms"] = round(statistics.median(vend_wall) * 1e3, 1)
    out["payout_cpu"] = summary_ms(payout_cpu) | shares(payout_prof,
                                                         statistics.median(payout_cpu))
    return out


def shares(profiler: cProfile.Profile, median_cpu_s: float) -> dict[str, Any]:
    """How the event loop thread's CPU splits between controller and simulators."""
    spent = charge_to_callers(pstats.Stats(profiler))
    total = sum(spent.values()) or 1e-9
    controller = sum(v for k, v in spent.items() if k.startswith(CONTROLLER_DIRS))
    top = sorted(spent.items(), key=lambda kv: -kv[1])[:8]
    return {"controller_share": round(controller / total, 3),
            "controller_median_ms_estimate": round(median_cpu_s * controller / total * 1e3, 2),
            "share_by_file": {k: round(v / total, 3) for k, v in top}}


async def run(keys: int, coins: int, sales: int) -> dict[str, Any]:
    from api.app import create_app
    from controller import config as config_mod
    from controller.app import build_machine

    cfg = config_mod.load(None)
    port = free_port()
    cfg = replace(cfg, api=replace(cfg.api, port=port))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "latency.db"
        machine = build_machine(cfg, db)
        sim = machine.sim.simulated_machine  # type: ignore[union-attr]
        await machine.start()
        runner = web.AppRunner(create_app(machine), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await asyncio.to_thread(seed_api, port)
            result = await measure(Bench(sim, machine, port), keys, coins, sales)
        finally:
            await runner.cleanup()
            await machine.close()
    return {"benchmark": "latency", **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--coins", type=int, default=40)
    parser.add_argument("--sales", type=int, default=10)
    parser.add_argument("--short", action="store_true", help="a few seconds, for the test suite")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    counts = (4, 3, 1) if args.short else (args.keys, args.coins, args.sales)
    emit(asyncio.run(run(*counts)))


if __name__ == "__main__":
    main()
