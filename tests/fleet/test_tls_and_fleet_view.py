"""mqtts:// with a throwaway CA made by openssl, and ``vending fleet --once``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.mqtt import (
    Broker,
    Subscriber,
    TelemetryServer,
    require_mosquitto,
    retained,
    sell_a1,
    stock_a1,
    telemetry_config,
    wait_for,
)
from tests.process import free_port


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 signed by it; returns the directory."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the TLS test needs it to make a CA")
    directory.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "1", "-subj", "/CN=vending test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "server.ext",
            cwd=directory)
    return directory


def fleet_once(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "--once", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_mqtts_with_a_throwaway_ca(tmp_path: Path) -> None:
    require_mosquitto()
    ca = make_ca(tmp_path / "ca")
    port, plain = free_port(), free_port()
    broker = Broker(tmp_path / "broker", plain, extra_conf=(
        f"listener {port} 127.0.0.1\ncafile {ca}/ca.crt\ncertfile {ca}/server.crt\n"
        f"keyfile {ca}/server.key\n"))
    broker.start()
    db = tmp_path / "m" / "vending.db"
    db.parent.mkdir()
    config = telemetry_config(f"mqtts://127.0.0.1:{port}", "RPV0042", ca_file=f"{ca}/ca.crt")
    server = TelemetryServer(db, config)
    try:
        server.start()
        sub = Subscriber(port, ["vending/RPV0042/#"], tls_ca=ca / "ca.crt")
        stock_a1(server)
        wait_for(lambda: retained(plain, "vending/RPV0042/status").get("online"), 10, "online")
        out = fleet_once("--broker", f"mqtts://127.0.0.1:{port}", "--ca-file", f"{ca}/ca.crt")
        assert out.returncode == 0, out.stderr
        assert "RPV0042" in out.stdout and "yes" in out.stdout
        wait_for(lambda: sub.payloads("inventory"), 10, "the inventory over TLS")
        sub.close()
        # without the CA the broker's certificate is refused
        refused = fleet_once("--broker", f"mqtts://127.0.0.1:{port}")
        assert refused.returncode != 0
    finally:
        server.stop()
        broker.stop()


def test_fleet_once_shows_stock_cash_and_sales(tmp_path: Path, broker: Broker) -> None:
    db = tmp_path / "m" / "vending.db"
    db.parent.mkdir()
    server = TelemetryServer(db, telemetry_config(broker.url, "RPV0007"))
    server.start()
    try:
        seller = stock_a1(server, cost=50, units=2)
        sell_a1(server)
        wait_for(lambda: (retained(broker.port, "vending/RPV0007/status").get("salesToday")
                          or {}).get("count") == 1, 10, "the sale in the status")
        cola = server.call("GET", "/product")[0]
        server.call("PUT", f"/product/{cola['id']}", {"minLevel": 1}, seller)  # A1 is low

        def a1_now() -> dict[str, Any]:
            inventory = retained(broker.port, "vending/RPV0007/inventory")
            return dict(next(s for s in inventory["slots"] if s["slot"] == "A1"))

        a1 = wait_for(lambda: (lambda s: s if s["minLevel"] == 1 else None)(a1_now()), 10,
                      "the minimum level in the inventory")
        assert a1 == {"slot": "A1", "productName": "Cola", "cost": 50, "amountAvailable": 1,
                      "capacity": 10, "minLevel": 1, "status": "ok"}
        inventory = retained(broker.port, "vending/RPV0007/inventory")
        assert {"coin": 50, "payout": 21, "capacity": 200, "cashbox": 0} in inventory["coins"]
        out = fleet_once("--broker", broker.url)
        assert out.returncode == 0, out.stderr
        header, row = out.stdout.splitlines()[:2]
        assert header.split()[:3] == ["MACHINE", "ONLINE", "STATE"]
        # 20 coins of each value in the hoppers (37.00) plus the 0.50 of the sale
        assert row.split() == ["RPV0007", "yes", "idle", "-", "-", "A1", "37.50", "0.00",
                               "1", "/", "0.50"]
    finally:
        server.stop()
    out = fleet_once("--broker", broker.url)
    assert out.stdout.splitlines()[1].split()[:3] == ["RPV0007", "NO", "-"]
