"""A ccTalk serial port missing at start-up (USB-serial adapter unplugged).

The process starts anyway: a real ``vending run`` on a hardware config (the
GPIO parts on gpiozero's mock pins) whose ccTalk port is a path that does
not exist serves the API, and reports the acceptor and every ccTalk hopper
as faulted with the reason a technician can act on; when the port appears
(a symlink to a simulated bus's pty), the devices are brought in.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from simulators.cctalk.factory import build_cctalk_bus
from simulators.world import SimWorld
from tests.process import Server, cli, login

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "systemd" / "vending.toml"


def _config_on_port(tmp_path: Path, port: Path) -> Path:
    text, n = re.subn(r'(?m)^port = "/dev/[^"]*"', f'port = "{port}"',
                      SHIPPED_CONFIG.read_text())
    assert n == 1, "the shipped config's [acceptor] port line moved"
    config = tmp_path / "vending.toml"
    config.write_text(text)
    return config


@pytest.mark.timeout(60)
def test_missing_cctalk_port_is_a_device_fault_not_the_end(tmp_path: Path) -> None:
    missing = tmp_path / "ttyUSB0"
    db = tmp_path / "vending.db"
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    server = Server(db, env={"GPIOZERO_PIN_FACTORY": "mock"},
                    args=("--config", str(_config_on_port(tmp_path, missing))))
    server.start()
    try:
        health = server.call("GET", "/health")
        faults = {f["device"]: f["reason"] for f in health["faults"]}
        assert {"acceptor", "hopper:5", "hopper:10", "hopper:20", "hopper:50",
                "hopper:100"} <= set(faults), faults
        for reason in faults.values():
            assert f"serial port {missing} cannot be opened" in reason, reason
        machine = server.call("GET", "/machine", token=login(server, "oper", "operator-pass"))
        assert {"acceptor", "hopper:100"} <= {f["device"] for f in machine["faults"]}
        assert server.proc is not None and server.proc.poll() is None
    finally:
        server.stop()


async def _wait_healed(server: Server, devices: set[str], timeout_s: float) -> set[str]:
    """The given devices still faulted once they healed or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while True:
        health = await asyncio.to_thread(server.call, "GET", "/health")
        left = devices & {f["device"] for f in health.get("faults", [])}
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.1)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_the_port_plugged_in_later_brings_the_devices_in(tmp_path: Path) -> None:
    plug = tmp_path / "ttyUSB0"
    server = Server(tmp_path / "vending.db", env={"GPIOZERO_PIN_FACTORY": "mock"},
                    args=("--config", str(_config_on_port(tmp_path, plug))))
    await asyncio.to_thread(server.start)
    world = SimWorld.load_or_create(None, coins=[5, 10, 20, 50, 100], slots=["A1"])
    bus = build_cctalk_bus(world)
    try:
        devices = {"acceptor", "hopper:5", "hopper:10", "hopper:20", "hopper:50", "hopper:100"}
        health = await asyncio.to_thread(server.call, "GET", "/health")
        assert devices <= {f["device"] for f in health["faults"]}
        await bus.start()
        assert bus.port is not None
        os.symlink(bus.port, plug)  # the adapter plugged in
        assert await _wait_healed(server, devices, 15.0) == set()
        assert server.proc is not None and server.proc.poll() is None
    finally:
        await asyncio.to_thread(server.stop)
        await bus.close()
