"""The shipped Mosquitto config against a machine's credentials used on another machine.

The attack as it was seen: logged in as RPV0002 with client id
``vending-RPV0001`` (then ``RPV0001``), a client kicked the real machine off
again and again, and a clean-session connect wiped its queued commands.  With
``use_username_as_clientid`` (``systemd/mosquitto/fleet.conf``) the broker gives
every client its user name as its id, so RPV0002's connects only ever touch
RPV0002's session.  Also: hostile commands get an error reply and the link stays up.

The broker runs the shipped config (its TLS listener swapped for one on a unix
socket, reached through a relay on a TCP port bound to port 0).
"""

from __future__ import annotations

import getpass
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fleet.mqtt import (
    Subscriber,
    TelemetryServer,
    require_mosquitto,
    telemetry_config,
    wait_for,
)
from tests.fleet.relay import TcpToUnix
from tests.fleet.test_acl import USERS, password_file

pytestmark = pytest.mark.timeout(120)
SHIPPED = Path(__file__).resolve().parents[2] / "systemd" / "mosquitto"
CMD, REPLY, STATUS = "vending/RPV0001/cmd", "vending/RPV0001/reply", "vending/RPV0001/status"


@dataclass
class ShippedBroker:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def shipped_broker(tmp_path: Path) -> Iterator[ShippedBroker]:
    mosquitto = require_mosquitto()
    sockets = Path(tempfile.mkdtemp(prefix="mq-"))  # a unix socket path must be short
    conf, log = tmp_path / "mosquitto.conf", tmp_path / "mosquitto.log"
    ours = {"listener": f"listener 0 {sockets}/mqtt.sock", "cafile": "", "certfile": "",
            "keyfile": "", "password_file": f"password_file {password_file(tmp_path)}",
            "acl_file": f"acl_file {SHIPPED / 'fleet.acl'}"}
    lines = [f"user {getpass.getuser()}"]
    for line in (SHIPPED / "fleet.conf").read_text().splitlines():
        key = line.split()[0] if line.strip() and not line.startswith("#") else ""
        lines.append(ours.get(key, line))  # in place: options after a listener are its own
    assert "use_username_as_clientid true" in lines
    conf.write_text("\n".join([*lines, f"persistence_location {tmp_path}/",
                               f"log_dest file {log}", "log_type all", ""]))
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    relay = None
    try:
        wait_for(lambda: (sockets / "mqtt.sock").exists() or proc.poll() is not None, 10,
                 "mosquitto to listen")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        relay = TcpToUnix(sockets / "mqtt.sock")
        yield ShippedBroker(relay.port, log)
    finally:
        if relay is not None:
            relay.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
def machine(tmp_path: Path, shipped_broker: ShippedBroker) -> Iterator[TelemetryServer]:
    (tmp_path / "m").mkdir()
    secret = tmp_path / "m" / "mqtt.pass"
    secret.write_text(USERS["RPV0001"] + "\n")
    server = TelemetryServer(tmp_path / "m" / "vending.db", telemetry_config(
        shipped_broker.url, "RPV0001", commands=True, username="RPV0001",
        password_file=str(secret)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(shipped_broker: ShippedBroker, machine: TelemetryServer) -> Iterator[Subscriber]:
    sub = Subscriber(shipped_broker.port, ["vending/#"], username="fleet",
                     password=USERS["fleet"])
    try:
        wait_for(lambda: any(s.get("online") for s in sub.payloads("RPV0001/status")), 15,
                 "the machine online")
        yield sub
    finally:
        sub.close()


def _connect(port: int, username: str, client_id: str, *, clean: bool) -> paho.Client:
    """Connect once and wait for the CONNACK; the client is returned connected."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.username_pw_set(username, USERS[username])
    acked: list[Any] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: acked.append(reason)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    wait_for(lambda: acked, 10, f"the CONNACK for {client_id}")
    assert not acked[0].is_failure, acked[0]  # RPV0002 may log in: as itself
    return client


def _ask(fleet: Subscriber, body: Any, raw: bytes | None = None) -> dict[str, Any]:
    before = len(fleet.payloads("RPV0001/reply"))
    if raw is None:
        fleet.publish(CMD, body)
    else:
        fleet.client.publish(CMD, raw, qos=1).wait_for_publish(10)
    replies = wait_for(lambda: fleet.payloads("RPV0001/reply")[before:], 20, "a reply")
    reply: dict[str, Any] = replies[0]
    return reply


def _onlines(fleet: Subscriber) -> int:
    """How many times the machine said it is online (it does so on every connect)."""
    return sum(1 for s in fleet.payloads("RPV0001/status") if s.get("online"))


def test_another_machines_credentials_cannot_take_over_the_session(
        shipped_broker: ShippedBroker, machine: TelemetryServer, fleet: Subscriber) -> None:
    connects_before = _onlines(fleet)
    intruders = []
    try:
        for n in range(10):  # the takeover attempts, as they were seen, some clean
            for client_id in ("vending-RPV0001", "RPV0001"):
                intruders.append(_connect(shipped_broker.port, "RPV0002", client_id,
                                          clean=n % 2 == 0))
        # the machine's link never dropped: commands are answered at once, none lost
        assert _ask(fleet, {"id": "after-attack", "command": "ping"})["ok"] is True
        time.sleep(1.0)  # a kicked machine would reconnect within ~0.2 s and say online
        assert _onlines(fleet) == connects_before
        assert machine.call("GET", "/health")["state"] == "idle"
    finally:
        for client in intruders:
            client.loop_stop()
            client.disconnect()
    log = shipped_broker.log.read_text(errors="replace")
    assert "already connected, closing old connection" not in log.replace(
        "Client RPV0002 already connected", "")


def test_a_queued_command_survives_a_clean_connect_with_the_machines_id(
        shipped_broker: ShippedBroker, machine: TelemetryServer, fleet: Subscriber) -> None:
    machine.stop()  # offline: the broker keeps its command in the machine's session
    fleet.publish(CMD, {"id": "queued", "command": "ping"})
    intruder = _connect(shipped_broker.port, "RPV0002", "RPV0001", clean=True)
    intruder.loop_stop()
    intruder.disconnect()
    machine.start()
    wait_for(lambda: [r for r in fleet.payloads("RPV0001/reply") if r["id"] == "queued"], 30,
             "the queued command's reply")


@pytest.mark.parametrize("raw", [
    b'{"id": ' + b"7" * 5000 + b', "command": "ping"}',
    b"[" * 200_000 + b"]" * 200_000,
    b'{"id": "dup", "id": "dup2", "command": "ping"}',
    b'{"id": "big", "command": "set_price", "args": {"slot": "A1", "cost": 1e999}}',
    b'{"id": "\\ud800", "command": "ping"}',
    b'{"id": "nan", "command": "set_price", "args": {"slot": "A1", "cost": NaN}}',
])
def test_a_hostile_command_gets_an_error_reply_and_the_link_stays(
        fleet: Subscriber, raw: bytes) -> None:
    connects_before = _onlines(fleet)
    reply = _ask(fleet, None, raw)
    assert reply["ok"] is False and reply["error"]["code"] == "validation_error", reply
    assert _ask(fleet, {"id": f"ping-{uuid.uuid4().hex}", "command": "ping"})["ok"] is True
    assert _onlines(fleet) == connects_before  # no reconnect in between
