"""The README's local fleet: its machines loop and ``vending fleet`` as written, on the
test's own broker, with the machines on ports of the system's choosing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.docs.readme import text
from tests.fleet.mqtt import Broker


def recipe() -> list[str]:
    found = re.search(r"<!-- local-fleet:[^>]*-->\n```sh\n(.*?)\n```", text(), re.DOTALL)
    assert found, "README.md has no local fleet recipe"
    block = found.group(1)
    commands = re.split(r"\n(?!  |done)", block)  # a loop's body and its done stay together
    assert len(commands) == 3, commands
    assert commands[0].startswith("/usr/sbin/mosquitto -p 1883 &")
    return commands


@pytest.mark.timeout(120)
def test_three_machines_and_the_fleet_view_as_the_readme_says(tmp_path: Path,
                                                               broker: Broker) -> None:
    _, machines, view = recipe()
    venv_bin = str(Path(sys.executable).parent) + "/"

    def ours(command: str) -> str:
        return (command.replace("127.0.0.1:1883", f"127.0.0.1:{broker.port}")
                .replace("--port 808$n", "--port 0").replace(".venv/bin/", venv_bin))

    assert "--port 808$n" in machines and "--db fleet-$n/vending.db" in machines
    started = subprocess.Popen(["bash", "-c", ours(machines) + "\nwait"], cwd=tmp_path,
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            once = subprocess.run(["bash", "-c", ours(view) + " --once"], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60, check=False)
            assert once.returncode == 0, once.stderr
            if "3 machines, 3 online" in once.stdout or time.monotonic() > deadline:
                break
        lines = once.stdout.splitlines()
        assert [line.split()[:3] for line in lines[1:4]] == [
            [f"RPV000{n}", "yes", "idle"] for n in (1, 2, 3)], once.stdout
        assert lines[4] == "3 machines, 3 online, 0 faults, sales today 0 / 0.00"
        assert sorted(p.name for p in tmp_path.glob("fleet-*/vending.db")) == ["vending.db"] * 3
    finally:
        os.killpg(started.pid, signal.SIGTERM)
        started.wait(30)
