"""Connections held open by a hostile neighbour: head deadline, caps, eviction, parser errors.

These run the app behind ``api.serving.listen`` (what ``vending run`` uses)
on a real socket, with clients bound to other loopback addresses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from api.app import create_app
from api.serving import LINGER_S, AcceptErrorLog, ConnectionGuard, connection_cap, listen
from controller.config import ApiConfig, Config
from tests.api.fake_machine import FakeMachine

HEAD_TIMEOUT_S = 0.5
LIMITS = replace(ApiConfig(), port=0, request_head_timeout_s=HEAD_TIMEOUT_S, body_timeout_s=0.5,
                 max_connections=24, max_connections_per_address=16)


@dataclass
class Served:
    port: int
    guard: ConnectionGuard

    async def connect(self, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port, local_addr=(source, 0))

    async def request(self, source: str, raw: bytes) -> bytes:
        reader, writer = await self.connect(source)
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    machine = FakeMachine(tmp_path, config=replace(Config(), api=LIMITS))
    await machine.start()
    runner = web.AppRunner(create_app(machine), access_log=None)
    await runner.setup()
    listener, guard = await listen(runner, LIMITS)
    try:
        yield Served(listener.sockets[0].getsockname()[1], guard)
    finally:
        listener.close()
        await runner.cleanup()
        await listener.wait_closed()
        await machine.close()


HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _json(answer: bytes) -> dict[str, object]:
    body: dict[str, object] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return body


async def _closed_after(reader: asyncio.StreamReader, limit_s: float) -> float:
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), limit_s) == b""
    return time.monotonic() - started


@pytest.mark.asyncio
async def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    reader, writer = await served.connect("127.0.0.2")
    elapsed_s = await _closed_after(reader, HEAD_TIMEOUT_S + 2)
    assert elapsed_s >= HEAD_TIMEOUT_S * 0.8
    writer.close()
    assert served.guard.total == 0


@pytest.mark.asyncio
async def test_a_head_sent_byte_by_byte_is_closed_too(served: Served) -> None:
    reader, writer = await served.connect("127.0.0.2")
    started = time.monotonic()
    with pytest.raises((ConnectionError, AssertionError)):
        for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaa":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
            assert not reader.at_eof()
        raise AssertionError("sent the whole head")
    assert time.monotonic() - started < HEAD_TIMEOUT_S + 1.5
    writer.close()


@pytest.mark.asyncio
async def test_a_prompt_client_is_served_and_kept_alive(served: Served) -> None:
    reader, writer = await served.connect("127.0.0.2")
    for _ in range(2):
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200") and b"Server: vending\r\n" in head
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    # idle after its requests, the kept-alive connection goes too
    await _closed_after(reader, HEAD_TIMEOUT_S + 2)
    writer.close()


@pytest.mark.asyncio
async def test_one_address_cannot_take_every_connection(served: Served) -> None:
    held = [await served.connect("127.0.0.2") for _ in range(LIMITS.max_connections_per_address)]
    await asyncio.sleep(0.05)
    answer = await served.request("127.0.0.2", HEALTH)
    assert _status(answer) == 429 and b"Retry-After: " in answer
    assert _json(answer)["error"] == {"code": "too_many_attempts",
                                      "message": "too many connections from your address"}
    assert _status(await served.request("127.0.0.3", HEALTH)) == 200
    for _, writer in held:
        writer.close()


@pytest.mark.asyncio
async def test_a_full_house_makes_room_by_closing_the_oldest_idle(served: Served) -> None:
    flood = [await served.connect(source) for source in ("127.0.0.2", "127.0.0.4")
             for _ in range(LIMITS.max_connections // 2)]
    await asyncio.sleep(0.05)
    assert served.guard.total == LIMITS.max_connections
    started = time.monotonic()
    assert _status(await served.request("127.0.0.3", HEALTH)) == 200
    assert time.monotonic() - started < HEAD_TIMEOUT_S  # did not wait for the deadline
    assert served.guard.evicted >= 1
    oldest_reader, _ = flood[0]
    assert await asyncio.wait_for(oldest_reader.read(), 1) == b""
    for _, writer in flood:
        writer.close()


@pytest.mark.asyncio
async def test_a_body_that_trickles_is_refused(served: Served) -> None:
    reader, writer = await served.connect("127.0.0.2")
    writer.write(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 60\r\n\r\n{\"user")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert _status(head) == 400
    assert b"did not arrive" in await reader.read(200)
    await _closed_after(reader, LINGER_S + 1)
    writer.close()


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"GET /he alth HTTP/1.1\r\n\r\n",
    b"GET /product/" + b"1" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # line > 8190
    b"GET /" + b"a" * 9000,  # a request line that never ends
])
@pytest.mark.asyncio
async def test_parser_errors_are_json_without_a_traceback(served: Served, raw: bytes,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await served.request("127.0.0.2", raw)
    assert 400 <= _status(answer) < 500
    assert b"Server: vending\r\n" in answer and b"aiohttp" not in answer
    error = _json(answer)["error"]
    assert isinstance(error, dict) and error["code"] == "validation_error"
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


@pytest.mark.asyncio
@pytest.mark.parametrize("encoding", [b"br", b"zstd", b"gzip, br"])
async def test_a_brotli_body_is_415_not_a_hint_to_install_a_package(served: Served,
                                                                    encoding: bytes) -> None:
    body = b"\x8b\x03\x80{}\x03"
    answer = await served.request("127.0.0.2", (
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: " + encoding + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        + body)
    assert _status(answer) == 415
    error = _json(answer)["error"]
    assert isinstance(error, dict) and error["code"] == "unsupported_media_type"
    assert b"install" not in answer.lower() and b"brotli" not in answer.lower()


# --- the parts on their own ----------------------------------------------------------------


def test_the_file_limit_lowers_the_connection_cap(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    import api.serving

    def refuse(*_: object) -> None:
        raise ValueError("not allowed")

    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 256))
    monkeypatch.setattr(resource, "setrlimit", refuse)
    assert connection_cap(1024) == 256 - api.serving.FD_RESERVE
    assert "LimitNOFILE" in caplog.text
    assert connection_cap(64) == 64


def test_accept_errors_are_one_line_now_and_then(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, object]] = []
    handler = AcceptErrorLog(lambda _loop, context: seen.append(context), interval_s=60)
    loop = asyncio.new_event_loop()
    try:
        for _ in range(500):
            handler(loop, {"message": AcceptErrorLog.MESSAGE,
                           "exception": OSError(24, "Too many open files")})
        handler(loop, {"message": "something else"})
    finally:
        loop.close()
    warnings = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert handler.suppressed == 499
    assert seen == [{"message": "something else"}]
