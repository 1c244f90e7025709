"""systemd supervision: READY, STATUS, WATCHDOG and STOPPING over ``NOTIFY_SOCKET``.

The notify protocol is one datagram of ``KEY=value`` lines to the AF_UNIX
socket systemd names in ``NOTIFY_SOCKET`` (an ``@`` first means the abstract
namespace); without that variable every call here does nothing.

The watchdog is fed only while the process is really working: the ping task
runs on the event loop (a blocked loop sends nothing), every device loop's
``Heartbeat`` must have gone round within half the watchdog period, and the
store's owner thread must answer within the same time (a stalled SD card
stops the pings).  Then systemd kills and restarts the service, and boot
recovery settles whatever was open.

Not modelled: ``FDSTORE``, ``EXTEND_TIMEOUT_USEC``, ``RELOADING``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from controller.events import EventStream
from drivers.heartbeat import Heartbeat

log = logging.getLogger(__name__)
STATUS_KINDS = ("state", "faults")


class SystemdNotifier:
    """Sends sd_notify datagrams; a no-op when not started by systemd."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        return cls((os.environ if env is None else env).get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """One datagram of these ``KEY=value`` lines; False if it could not go."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(lines).encode(), target)
        except OSError as exc:
            log.warning("systemd notify to %s failed: %s", self.address, exc)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_period_s(env: Mapping[str, str] | None = None) -> float | None:
    """``WATCHDOG_USEC`` in seconds, when it is meant for this process."""
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


@dataclass(frozen=True)
class MachineView:
    """What the supervisor reads of the machine, as plain callables."""

    stream: EventStream
    state: Callable[[], str]
    faults: Callable[[], dict[str, str]]
    heartbeats: Callable[[], list[Heartbeat]]
    store_answers: Callable[[], Awaitable[object]]


class Supervisor:
    """Tells systemd that the machine is ready, how it is, and that it is alive."""

    def __init__(self, machine: MachineView, notifier: SystemdNotifier,
                 watchdog_s: float | None) -> None:
        self.machine = machine
        self.notifier = notifier
        self.watchdog_s = watchdog_s
        self.pings = 0
        self._status = ""
        self._stalled: list[str] = []
        self._store_beat = Heartbeat("store")
        self._tasks: list[asyncio.Task[None]] = []

    def status_text(self) -> str:
        faults = self.machine.faults()
        text = self.machine.state()
        if faults:
            text += "; faults: " + ", ".join(f"{d} ({r})" for d, r in sorted(faults.items()))
        return text

    def start(self) -> None:
        """READY=1 (the API serves), then follow the state and feed the watchdog."""
        self._status = self.status_text()
        self.notifier.send("READY=1", f"STATUS={self._status}", f"MAINPID={os.getpid()}")
        self._tasks.append(asyncio.create_task(self._follow_status(), name="systemd-status"))
        if self.watchdog_s is not None:
            self._tasks.append(asyncio.create_task(self._probe_store(), name="store-probe"))
            self._tasks.append(asyncio.create_task(self._feed_watchdog(), name="watchdog"))
            log.info("systemd watchdog every %.1f s", self.watchdog_s)

    def stopping(self) -> None:
        self.notifier.send("STOPPING=1", "STATUS=stopping")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.notifier.close()

    async def _follow_status(self) -> None:
        with self.machine.stream.subscribe(STATUS_KINDS) as events:
            async for _event in events:
                status = self.status_text()
                if status != self._status:
                    self._status = status
                    self.notifier.send(f"STATUS={status}")

    async def _feed_watchdog(self) -> None:
        assert self.watchdog_s is not None
        limit_s = self.watchdog_s / 2
        while True:
            stalled = self.stalled(limit_s)
            if not stalled:
                if self._stalled:
                    log.warning("watchdog: every loop alive again; pings resumed")
                self.notifier.send("WATCHDOG=1")
                self.pings += 1
            elif stalled != self._stalled:
                log.error("watchdog: %s silent for over %.1f s; pings stopped (systemd will "
                          "restart the service)", ", ".join(stalled), limit_s)
            self._stalled = stalled
            await asyncio.sleep(self.watchdog_s / 4)  # twice per half period: never late

    def stalled(self, limit_s: float) -> list[str]:
        """The loops (the store's thread among them) silent for over ``limit_s``."""
        now = time.monotonic()
        return [hb.name for hb in [*self.machine.heartbeats(), self._store_beat]
                if hb.silent_s(now) > limit_s]

    async def _probe_store(self) -> None:
        """The store's owner thread must answer: a stalled disk stops the pings."""
        assert self.watchdog_s is not None
        while True:
            self._store_beat.beat()
            try:
                await self.machine.store_answers()
            except Exception as exc:  # a closed store is not a hang
                log.debug("store probe: %r", exc)
            self._store_beat.waiting()
            await asyncio.sleep(self.watchdog_s / 4)
