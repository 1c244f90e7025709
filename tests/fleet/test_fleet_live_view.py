"""``vending fleet`` against a real Mosquitto: a broker restart, the redraw rate, and a
machine's hostile or broken retained status."""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.fleet.mqtt import Broker, wait_for

GOOD = {"online": True, "state": "idle", "faults": [], "version": "0.1.0", "ts": time.time(),
        "salesToday": {"count": 0, "cents": 0}}
HEADER = re.compile(r"^\d\d:\d\d:\d\d  mqtt://\S+: ", re.MULTILINE)


class Publisher:
    """A paho client that publishes as a (fake) machine would."""

    def __init__(self, port: int) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="")
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        wait_for(self.client.is_connected, 10, "the publisher to connect")

    def status(self, machine: str, body: Any, *, retain: bool = True, qos: int = 1) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        info = self.client.publish(f"vending/{machine}/status", payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class LiveView:
    """``vending fleet --broker URL`` with its output read as it comes."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "fleet",
                                      "--broker", url], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.text = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.text += line

    def screens(self) -> list[str]:
        """Every table drawn so far, header first."""
        with self._lock:
            text = self.text
        starts = [m.start() for m in HEADER.finditer(text)] + [len(text)]
        return [text[a:b] for a, b in itertools.pairwise(starts)]

    def last(self) -> str:
        screens = self.screens()
        return screens[-1] if screens else ""

    def wait_for(self, needle: str, timeout_s: float = 15.0) -> str:
        def seen() -> str | None:
            assert self.proc.poll() is None, f"vending fleet exited:\n{self.text}"
            last = self.last()
            return last if needle in last else None
        return str(wait_for(seen, timeout_s, f"{needle!r} on screen; last:\n{self.last()}"))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(10)


def test_the_live_view_survives_a_broker_restart(broker: Broker) -> None:
    view = LiveView(broker.url)
    machine = Publisher(broker.port)
    try:
        view.wait_for(": connected")
        machine.status("RPV0001", GOOD)
        view.wait_for("1 machine, 1 online, 0 faults")
        machine.close()
        broker.stop()
        lost = view.wait_for("LOST since")
        assert "the table is as last heard" in lost and "RPV0001  yes" in lost
        broker.start()  # same port, persistent: the retained status is kept
        screen = view.wait_for(": connected", timeout_s=20)
        assert "1 machine" in screen
        machine = Publisher(broker.port)
        machine.status("RPV0002", {**GOOD, "state": "credit",
                                   "salesToday": {"count": 1, "cents": 65}})
        screen = view.wait_for("2 machines, 2 online")
        assert "sales today 1 / 0.65" in screen
    finally:
        machine.close()
        assert view.stop() == 0


def test_a_burst_of_changes_is_drawn_a_few_times_a_second(broker: Broker) -> None:
    view = LiveView(broker.url)
    machine = Publisher(broker.port)
    try:
        view.wait_for(": connected")
        before = len(view.screens())
        started = time.monotonic()
        for n in range(1, 501):
            machine.status("RPV0001", {**GOOD, "salesToday": {"count": n, "cents": 5 * n}},
                           retain=False, qos=0)
            time.sleep(0.002)  # a busy fleet: 500 changes in a second or two
        view.wait_for("sales today 500 / 25.00")
        elapsed = time.monotonic() - started
        drawn = len(view.screens()) - before
        print(f"500 changes in {elapsed:.2f} s drawn {drawn} times")
        assert 1 <= drawn <= elapsed * 4 + 2
    finally:
        machine.close()
        assert view.stop() == 0


def test_one_bad_or_hostile_status_cannot_stop_or_draw_on_the_once_table(
        broker: Broker) -> None:
    machine = Publisher(broker.port)
    try:
        machine.status("RPV0001", GOOD)
        machine.status("RPV0002", {**GOOD, "salesToday": {"count": 1, "cents": "lots"}})
        machine.status("RPV0003", {**GOOD, "state": "\x1b[2J\x1b[H\nRPV0666  yes  idle"})
        machine.status("RPV0004", b"\x1b[31m not json")
    finally:
        machine.close()
    out = subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "--once",
                          "--broker", broker.url], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert all(ch.isprintable() for line in lines for ch in line)
    rows = [line.split()[0] for line in lines[1:5]]
    assert rows == ["RPV0001", "RPV0002", "RPV0003", "RPV0004"]
    assert lines[2].split()[1:4] == ["?", "bad", "status"]
    assert lines[3].split()[1:3] == ["yes", "\\x1b[2J\\x1b[H\\nRPV0666"]
    assert lines[5] == "4 machines, 2 online, 0 faults, sales today 0 / 0.00, " \
                       "2 with a bad status"
    assert "RPV0002: bad status (salesToday.cents is not a whole number" in out.stdout
    assert "RPV0004: bad status (not JSON)" in out.stdout
