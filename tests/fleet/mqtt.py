"""A real Mosquitto broker on a free port, a test subscriber, and a machine with telemetry."""

from __future__ import annotations

import getpass
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.process import Server, free_port, login

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def require_mosquitto() -> str:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto): "
                    "the MQTT fleet tests need a real broker")
    return MOSQUITTO


def wait_for(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class AddressInUse(AssertionError):
    """Mosquitto could not bind its port: another process holds it."""


class Broker:
    """Mosquitto with its own config, data directory and log.  Mosquitto cannot bind
    port 0 and say which port it got, so with ``port`` 0 (the default) a free port is
    taken and, if another process takes it first (EADDRINUSE), another one, up to
    five times.  A restart (``stop`` then ``start``) keeps the port, as machines that
    report to the broker know it by its URL."""

    def __init__(self, directory: Path, port: int = 0, *, extra_conf: str = "",
                 plain_listener: bool = True) -> None:
        self.dir, self.port = directory, port
        self.extra_conf, self.plain_listener = extra_conf, plain_listener
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    def _write_conf(self) -> None:
        listener = (f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    if self.plain_listener else "")
        extra = self.extra_conf.replace("{port}", str(self.port))
        self.conf.write_text(
            f"user {getpass.getuser()}\nper_listener_settings false\n{listener}"
            f"persistence true\npersistence_location {self.dir}/\n"
            f"log_dest file {self.dir}/mosquitto.log\nlog_type all\n{extra}")

    def start(self) -> None:
        may_move = self.port == 0  # a port of our choosing, never yet served on
        for _ in range(5 if may_move else 1):
            if may_move:
                self.port = free_port()
            self._write_conf()
            self.proc = subprocess.Popen([require_mosquitto(), "-c", str(self.conf)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_for(self._listening, 10, "mosquitto to listen")
                return
            except AddressInUse:
                if not may_move:
                    raise
        raise AssertionError(f"mosquitto found no free port (last tried {self.port})")

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            if "in use" in err:
                raise AddressInUse(err)
            raise AssertionError(f"mosquitto exited: {err}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Subscriber:
    """A paho client in its own thread that keeps every message it receives.

    It has a persistent session, so QoS 1 messages published while it was cut off
    from a restarted broker are kept for it and arrive after it reconnects.
    """

    def __init__(self, port: int, topics: list[str], *, tls_ca: Path | None = None,
                 username: str | None = None, password: str | None = None) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.arrivals: list[float] = []  # time.time() of each message, as they came
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex}",
                                  clean_session=False)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.client.on_message = self._on_message
        self._topics = topics
        self._pending_subscriptions: set[int] = {-1}  # SUBSCRIBE mids not yet acknowledged
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        self.wait_connected()

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        with self._lock:
            self._pending_subscriptions = {client.subscribe(t, qos=1)[1] for t in self._topics}

    def _on_subscribe(self, _client: Any, _userdata: Any, mid: int, *_: Any) -> None:
        with self._lock:
            self._pending_subscriptions.discard(mid)

    def _subscribed(self) -> bool:
        with self._lock:
            return self.client.is_connected() and not self._pending_subscriptions

    def wait_connected(self) -> None:
        """Until connected and every subscription is acknowledged by the broker."""
        wait_for(self._subscribed, 10, "the subscriber to connect and subscribe")

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self.arrivals.append(time.time())

    def payloads(self, topic_end: str) -> list[Any]:
        with self._lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith(topic_end) and p]

    def publish(self, topic: str, body: Any) -> None:
        self.client.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def retained(port: int, topic: str, *, timeout_s: float = 3.0) -> Any:
    """The retained message of ``topic`` as a fresh client sees it (None if none)."""
    sub = Subscriber(port, [topic])
    try:
        found = wait_for(lambda: sub.payloads(topic.rsplit("/", 1)[-1]) or None, timeout_s,
                         f"the retained {topic}")
        return found[-1]
    finally:
        sub.close()


class TelemetryServer(Server):
    """``vending run --sim --config FILE`` with a ``[telemetry]`` section."""

    def __init__(self, db: Path, port: int | str, config: str | None = None) -> None:
        """``TelemetryServer(db, config)`` serves on a port of its own (port 0);
        ``TelemetryServer(db, port, config)`` on the port given."""
        if config is None:
            port, config = 0, str(port)
        assert isinstance(port, int)
        super().__init__(db, port)
        self.config_path = db.parent / "vending.toml"
        self.config_path.write_text(config)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "controller.cli", "run", "--sim", "--config",
                str(self.config_path), "--db", str(self.db), "--port", str(self.asked_port),
                "--log-level", "INFO"]

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        super().wait_ready(timeout_s)


def telemetry_config(broker_url: str, machine_id: str = "RPV0001", **extra: Any) -> str:
    lines = [f'[machine]\nmachine_id = "{machine_id}"\n', "[telemetry]",
             f'broker = "{broker_url}"']
    for key, value in extra.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def stock_a1(server: Server, *, cost: int = 50, units: int = 10) -> str:
    """A seller and a product in A1; returns the seller's token."""
    server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                  "role": "seller"})
    seller = login(server, "sam", "seller-pass")
    server.call("POST", "/product", {"productName": "Cola", "cost": cost,
                                     "amountAvailable": units, "slot": "A1"}, seller)
    return seller


def sell_a1(server: Server, coin: int = 50) -> None:
    """One sale at the front panel: a coin, A1, wait for the product, take it."""
    server.call("POST", "/sim/coin", {"coin": coin})
    server.call("POST", "/sim/press", {"keys": "A1"})
    wait_for(lambda: server.call("GET", "/sim/state")["tray"]
             and server.call("GET", "/health")["state"] == "idle", 10, "the sale")
    server.call("POST", "/sim/tray/take", {})
