"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets.

Much cheaper per request than an HTTP client library, so one core of load
can saturate a Python server on another core.  Each connection sends one
request, reads the whole answer (headers and ``Content-Length`` body), and
sends the next: no pipelining.  ``rate_per_s`` spaces the requests out evenly
over all connections (background load); without it every connection goes as
fast as the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0  # answers with a status >= 400, or a dropped connection
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def http_get(path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _connection(port: int, requests: Sequence[bytes], offset: int, stop_at: float,
                      budget: list[int], pace_s: float | None, result: LoadResult,
                      keep_latencies: bool) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i, next_at = offset, time.monotonic()
    try:
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            if pace_s is not None:
                next_at += pace_s
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            status = await _read_answer(reader)
            result.requests += 1
            result.errors += status >= 400
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if keep_latencies:
                result.latencies_s.append(time.perf_counter() - started)
    except (OSError, asyncio.IncompleteReadError):
        result.errors += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def run_load(port: int, requests: Sequence[bytes], *, connections: int = 32,
                   seconds: float = 5.0, max_requests: int = 10**9,
                   rate_per_s: float | None = None,
                   keep_latencies: bool = False, result: LoadResult | None = None) -> LoadResult:
    """Send ``requests`` round-robin over ``connections`` keep-alive connections
    (into ``result`` when given, so a cancelled run still tells what it did)."""
    result = result if result is not None else LoadResult()
    budget = [max_requests]
    pace_s = connections / rate_per_s if rate_per_s else None
    started = time.monotonic()
    await asyncio.gather(*(
        _connection(port, requests, n, started + seconds, budget, pace_s, result,
                    keep_latencies) for n in range(connections)))
    result.seconds = time.monotonic() - started
    return result
