"""systemd notify and watchdog against a real ``vending run`` on a fake notify socket."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import Server
from tests.service.notify import NotifySocket, lines

WATCHDOG_USEC = 1_000_000  # pings at least every 0.5 s; a loop silent 0.5 s is hung


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


@pytest.fixture
def server(tmp_path: Path, notify: NotifySocket) -> Iterator[Server]:
    srv = Server(tmp_path / "vending.db",
                 env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.timeout(60)
def test_ready_then_pings_that_stop_while_the_acceptor_poll_hangs(
        server: Server, notify: NotifySocket) -> None:
    first = notify.wait_for("READY=1", 5)
    assert any(line.startswith("STATUS=idle") for line in lines(first, "STATUS="))
    assert len(lines(notify.receive(1.5), "WATCHDOG=1")) >= 3

    server.call("POST", "/sim/fault", {"device": "acceptor", "fault": "hang"})
    notify.receive(1.0)  # the poll goes silent; half the period later the pings stop
    assert lines(notify.receive(1.5), "WATCHDOG=1") == []
    assert server.call("GET", "/health")["status"]  # the API itself still answers

    server.call("POST", "/sim/fault", {"device": "acceptor", "fault": "clear"})
    assert len(lines(notify.receive(1.5), "WATCHDOG=1")) >= 2


@pytest.mark.timeout(60)
def test_sigterm_says_stopping_and_ends_within_5_s(server: Server, notify: NotifySocket) -> None:
    notify.wait_for("READY=1", 5)
    assert server.proc is not None
    began = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    notify.wait_for("STOPPING=1", 5)
    assert server.proc.wait(5) == 0
    assert time.monotonic() - began < 5


def test_without_notify_socket_nothing_is_sent(tmp_path: Path) -> None:
    from controller.ops.supervision import SystemdNotifier, watchdog_period_s

    assert not SystemdNotifier.from_env({}).send("READY=1")
    assert watchdog_period_s({}) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "2000000"}) == 2.0
    assert watchdog_period_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "soon"}) is None


@pytest.mark.timeout(60)
def test_status_follows_state_and_faults(server: Server, notify: NotifySocket) -> None:
    notify.wait_for("READY=1", 5)
    server.call("POST", "/sim/coin", {"coin": 100})
    notify.wait_for("STATUS=credit", 5)
    server.call("POST", "/sim/fault", {"device": "acceptor", "fault": "silent"})
    deadline = time.monotonic() + 10
    statuses: list[str] = []
    while time.monotonic() < deadline and not any("acceptor (" in s for s in statuses):
        statuses += lines(notify.receive(0.2), "STATUS=")
    assert any("; faults: acceptor (coin acceptor not answering" in s for s in statuses), \
        statuses
