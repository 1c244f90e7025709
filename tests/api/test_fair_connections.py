"""Kept-alive connections from a few neighbours cannot keep the operator out.

The attack as it was seen on a LAN: four addresses each open as many
connections as they can and keep them alive (``GET /health`` now and then,
or only a blank line), reconnecting whenever one is closed.  The table and
the per-address cap are scaled down (32 and 8 instead of 1024 and 64, with
the same shape: four addresses can fill the table), and so are the timings.
The operator's login from a fifth address must still get through in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from api.app import create_app
from api.connection_table import ConnectionGuard
from api.serving import listen
from controller.config import ApiConfig, Config
from tests.api.conftest import PASSWORD, make_account
from tests.api.fake_machine import FakeMachine

pytestmark = pytest.mark.timeout(60)

HEAD_TIMEOUT_S = 0.5
TABLE, PER_ADDRESS = 32, 8
LIMITS = replace(ApiConfig(), port=0, request_head_timeout_s=HEAD_TIMEOUT_S, body_timeout_s=2,
                 max_connections=TABLE, max_connections_per_address=PER_ADDRESS)
ATTACKERS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
OPERATOR_DESK = "127.0.0.9"
TRIES_PER_ADDRESS = 32  # 4 x 256 against 1024, scaled
LOGIN_LIMIT_S = 3.0
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@dataclass
class Served:
    port: int
    guard: ConnectionGuard
    operator: str

    async def connect(self, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port, local_addr=(source, 0))


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    machine = FakeMachine(tmp_path, config=replace(Config(), api=LIMITS))
    await machine.start()
    app = create_app(machine)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener, guard = await listen(runner, LIMITS)
    try:
        operator = await make_account(app, "operator")
        yield Served(listener.sockets[0].getsockname()[1], guard, operator.username)
    finally:
        listener.close()
        await runner.cleanup()
        await listener.wait_closed()
        await machine.close()


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


async def health_keeper(served: Served, source: str, every_s: float) -> None:
    """One kept-alive connection with a request now and then; reconnects when closed."""
    while True:
        try:
            reader, writer = await served.connect(source)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        try:
            while True:
                writer.write(HEALTH)
                answer = await _answer(reader)
                if not answer.startswith(b"HTTP/1.1 200"):
                    break  # refused (429/503): the attacker tries again
                await asyncio.sleep(every_s)
        except (OSError, asyncio.IncompleteReadError, IndexError):
            pass
        finally:
            writer.close()
        await asyncio.sleep(0.02)


async def blank_line_keeper(served: Served, source: str, every_s: float) -> None:
    """One connection that sends nothing but blank lines; reconnects when closed."""
    while True:
        try:
            reader, writer = await served.connect(source)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        try:
            while not reader.at_eof():
                writer.write(b"\r\n")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(every_s):  # (wait_for may swallow a cancel)
                        await reader.read(1024)
        except OSError:
            pass
        finally:
            writer.close()
        await asyncio.sleep(0.02)


async def operator_login(served: Served) -> tuple[int, float]:
    body = (b'{"username": "%s", "password": "%s"}'
            % (served.operator.encode(), PASSWORD.encode()))
    started = time.monotonic()
    reader, writer = await served.connect(OPERATOR_DESK)
    try:
        writer.write(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    return int(answer.split(b" ", 2)[1]), time.monotonic() - started


async def under_attack(served: Served, keeper: Callable[[Served, str, float], Awaitable[None]],
                       every_s: float) -> list[tuple[int, float]]:
    tasks = [asyncio.create_task(keeper(served, source, every_s))
             for source in ATTACKERS for _ in range(TRIES_PER_ADDRESS)]
    try:
        deadline = time.monotonic() + 10
        while served.guard.total < TABLE:  # the table is full before the operator comes
            assert time.monotonic() < deadline, served.guard.total
            await asyncio.sleep(0.02)
        assert max(served.guard.open_by_address.values()) <= PER_ADDRESS
        return [await operator_login(served) for _ in range(3)]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_kept_alive_connections_of_four_addresses_make_room_for_the_operator(
        served: Served) -> None:
    logins = await under_attack(served, health_keeper, 0.3)
    assert [status for status, _ in logins] == [200, 200, 200], logins
    assert max(elapsed for _, elapsed in logins) < LOGIN_LIMIT_S, logins
    assert served.guard.evicted >= 3  # the attackers' idle connections made the room
    assert served.guard.refused > 0  # and each address was held to its share


@pytest.mark.asyncio
async def test_blank_line_keepers_make_room_for_the_operator(served: Served) -> None:
    logins = await under_attack(served, blank_line_keeper, 0.1)
    assert [status for status, _ in logins] == [200, 200, 200], logins
    assert max(elapsed for _, elapsed in logins) < LOGIN_LIMIT_S, logins


@pytest.mark.asyncio
async def test_blank_lines_are_not_a_request_head(served: Served) -> None:
    reader, writer = await served.connect(ATTACKERS[0])
    started = time.monotonic()
    with contextlib.suppress(OSError):
        while not reader.at_eof() and time.monotonic() - started < 5:
            writer.write(b"\r\n")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await reader.read(1024)
    # closed at the head deadline, as a connection that sent nothing would be
    assert time.monotonic() - started < HEAD_TIMEOUT_S + 1.0
    writer.close()


@pytest.mark.asyncio
async def test_an_address_holds_at_most_its_share(served: Served) -> None:
    held = [await served.connect(ATTACKERS[0]) for _ in range(PER_ADDRESS)]
    reader, writer = await served.connect(ATTACKERS[0])
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 429") and b"Retry-After: " in answer
    writer.close()
    for _, w in held:
        w.close()


def test_the_default_share_is_64_of_1024() -> None:
    assert (ApiConfig().max_connections, ApiConfig().max_connections_per_address) == (1024, 64)


def test_a_full_table_closes_an_idle_connection_of_the_address_holding_the_most() -> None:
    closed: list[str] = []

    class Conn:
        def __init__(self, name: str) -> None:
            self.name = name

        def close_idle(self, why: str) -> None:
            closed.append(self.name)

    guard = ConnectionGuard(max_connections=6, max_per_address=4)
    big = [Conn(f"big{n}") for n in range(4)]
    small = [Conn(f"small{n}") for n in range(2)]
    for conn in small:
        assert guard.admit(conn, "10.0.0.2") is None
    for conn in big:
        assert guard.admit(conn, "10.0.0.3") is None
    guard.busy(big[0], "10.0.0.3")  # answering a request: never closed to make room
    assert guard.admit(Conn("operator"), "10.0.0.9") is None
    assert closed == ["big1"]
    for conn in big[1:]:
        guard.busy(conn, "10.0.0.3")
    assert guard.admit(Conn("next"), "10.0.0.9") is None
    assert closed == ["big1", "small0"]  # only the small address had idle ones left


@pytest.mark.asyncio
async def test_a_pipelined_request_is_busy_not_idle(served: Served) -> None:
    """A second request sent behind the first (HTTP pipelining) is being served once the
    first is answered: its connection is not closed to make room, even while its body is
    still on the way."""
    waiting_body = (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n")
    reader, writer = await served.connect(ATTACKERS[0])
    writer.write(HEALTH + waiting_body)
    assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
    others = []
    for i, address in enumerate(ATTACKERS):  # the rest of the table, each in a request
        for _ in range(PER_ADDRESS - (i == 0)):
            others.append(await served.connect(address))
            others[-1][1].write(waiting_body)
    deadline = time.monotonic() + 5
    while served.guard.total < TABLE or served.guard.idle_by_address:
        assert time.monotonic() < deadline, "a connection in a request stayed idle"
        await asyncio.sleep(0.01)
    newcomer, door = await served.connect(OPERATOR_DESK)
    assert (await asyncio.wait_for(newcomer.read(), 5)).startswith(b"HTTP/1.1 503")
    door.close()
    assert served.guard.evicted == 0
    writer.write(b"{}")  # the pipelined request's body: it is answered
    assert (await asyncio.wait_for(_answer(reader), 5)).startswith(b"HTTP/1.1 ")
    writer.close()
    for _, w in others:
        w.close()
