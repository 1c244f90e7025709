"""The README's broker ACL (systemd/mosquitto/fleet.acl) confines each machine to its topics."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleet.mqtt import Broker, Subscriber, TelemetryServer, telemetry_config, wait_for

ACL = Path(__file__).resolve().parents[2] / "systemd" / "mosquitto" / "fleet.acl"
USERS = {"fleet": "fleet-pass", "RPV0001": "machine-1-pass", "RPV0002": "machine-2-pass"}


def password_file(directory: Path) -> Path:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed: the ACL test needs it")
    path = directory / "passwd"
    for n, (user, password) in enumerate(USERS.items()):
        subprocess.run([tool, "-b", *(["-c"] if n == 0 else []), str(path), user, password],
                       check=True, capture_output=True, timeout=30)
    return path


def test_each_machine_only_reaches_its_own_topics(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker", plain_listener=False, extra_conf=(
        "listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {password_file(tmp_path)}\nacl_file {ACL}\n"))
    broker.start()
    port = broker.port
    (tmp_path / "m").mkdir()
    secret = tmp_path / "m" / "mqtt.pass"
    secret.write_text(USERS["RPV0001"] + "\n")
    server = TelemetryServer(tmp_path / "m" / "vending.db", telemetry_config(
        broker.url, "RPV0001", commands=True, username="RPV0001", password_file=str(secret)))
    fleet = Subscriber(port, ["vending/#"], username="fleet", password=USERS["fleet"])
    intruder = Subscriber(port, ["vending/RPV0001/cmd"], username="RPV0002",
                          password=USERS["RPV0002"])
    try:
        server.start()
        wait_for(lambda: any(s.get("online") for s in fleet.payloads("RPV0001/status")), 10,
                 "the machine online under its own name")
        fleet.publish("vending/RPV0001/cmd", {"id": "p1", "command": "ping"})
        wait_for(lambda: fleet.payloads("RPV0001/reply"), 10, "the reply to the fleet")
        # another machine may neither command RPV0001 nor read its commands
        intruder.publish("vending/RPV0001/cmd", {"id": "evil", "command": "service",
                                                 "args": {"enabled": True}})
        intruder.publish("vending/RPV0001/status", {"online": False})
        # Both were acknowledged by the broker (QoS 1); a command sent after them is
        # answered after anything the broker had let through before it.
        fleet.publish("vending/RPV0001/cmd", {"id": "p2", "command": "ping"})
        wait_for(lambda: len(fleet.payloads("RPV0001/reply")) >= 2, 10, "the second reply")
        assert [r["id"] for r in fleet.payloads("RPV0001/reply")] == ["p1", "p2"]
        assert server.call("GET", "/health")["state"] == "idle"
        assert intruder.payloads("cmd") == []
        assert {"online": False} not in fleet.payloads("RPV0001/status")
        fleet.close()  # one client per user, as the shipped config (client id = user) needs
        (tmp_path / "fleet.pass").write_text(USERS["fleet"])
        out = subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "--once",
                              "--broker", broker.url, "--username", "fleet",
                              "--password-file", str(tmp_path / "fleet.pass")],
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.stdout.splitlines()[1].split()[:3] == ["RPV0001", "yes", "idle"], out
    finally:
        fleet.close()
        intruder.close()
        server.stop()
        broker.stop()
