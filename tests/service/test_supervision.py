"""The Supervisor alone: what stops the watchdog pings, and what does not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controller.events import EventStream
from controller.ops.supervision import MachineView, Supervisor, SystemdNotifier
from drivers.heartbeat import Heartbeat
from tests.service.notify import NotifySocket, lines

pytestmark = pytest.mark.asyncio
WATCHDOG_S = 0.4


class Parts:
    def __init__(self) -> None:
        self.stream = EventStream()
        self.poll = Heartbeat("acceptor-poll")
        self.store_free = asyncio.Event()
        self.store_free.set()
        self.faults: dict[str, str] = {}

    async def store_answers(self) -> None:
        await self.store_free.wait()

    def view(self) -> MachineView:
        return MachineView(stream=self.stream, state=lambda: "idle", faults=lambda: self.faults,
                           heartbeats=lambda: [self.poll], store_answers=self.store_answers)


async def pings(sock: NotifySocket, seconds: float) -> int:
    got = await asyncio.to_thread(sock.receive, seconds)
    return len(lines(got, "WATCHDOG=1"))


async def test_stalled_loop_or_store_stops_the_pings(tmp_path: Path) -> None:
    sock = NotifySocket(tmp_path / "notify")
    parts = Parts()
    supervisor = Supervisor(parts.view(), SystemdNotifier(str(sock.path)), WATCHDOG_S)
    parts.poll.beat()
    supervisor.start()

    async def polling() -> None:
        while True:
            parts.poll.beat()
            await asyncio.sleep(0.02)

    poller = asyncio.create_task(polling())
    try:
        ready = await asyncio.to_thread(sock.wait_for, "READY=1", 2)
        assert "STATUS=idle" in ready[-1].splitlines()
        assert await pings(sock, 0.5) >= 3
        parts.store_free.clear()  # the disk stalls
        await asyncio.to_thread(sock.receive, 0.4)  # what was sent before it showed
        assert await pings(sock, 0.5) == 0
        parts.store_free.set()
        await asyncio.to_thread(sock.receive, 0.15)
        assert await pings(sock, 0.5) >= 2
        poller.cancel()  # the poll loop hangs mid-round
        await asyncio.to_thread(sock.receive, 0.4)  # what was sent before it showed
        assert await pings(sock, 0.5) == 0
        parts.poll.waiting()  # idle, waiting for events: alive
        await asyncio.to_thread(sock.receive, 0.15)
        assert await pings(sock, 0.5) >= 2
        parts.faults["hopper:50"] = "empty"
        parts.stream.publish("faults", faults=[{"device": "hopper:50", "reason": "empty",
                                                "latched": False}])
        got = await asyncio.to_thread(sock.wait_for, "STATUS=idle; faults: hopper:50 (empty)", 2)
        assert got
        supervisor.stopping()
        assert await asyncio.to_thread(sock.wait_for, "STOPPING=1", 2)
    finally:
        poller.cancel()
        await supervisor.close()
        sock.close()
