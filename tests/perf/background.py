"""Background API load for the latency benchmark: GET requests at a steady rate.

    python tests/perf/background.py PORT RATE_PER_S

Runs until its standard input closes, then prints the requests per second it
got answered and the number of errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf.loadgen import LoadResult, http_get, run_load

PATHS = ("/product", "/health", "/product/1", "/sim/state")


async def main(port: int, rate_per_s: float) -> None:
    result, started = LoadResult(), time.monotonic()
    load = asyncio.create_task(run_load(port, [http_get(p) for p in PATHS], connections=8,
                                        seconds=3600, rate_per_s=rate_per_s, result=result))
    await asyncio.to_thread(sys.stdin.read)  # until the parent closes the pipe
    load.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await load
    print(round(result.requests / (time.monotonic() - started)), result.errors)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
