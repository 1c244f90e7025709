"""A simulated fleet: 20 ``vending run --sim`` machines on one broker, one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleet.mqtt import Broker, TelemetryServer, telemetry_config, wait_for

FLEET_SIZE = 20
WAVE = 4


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_twenty_machines_on_one_broker(tmp_path: Path, broker: Broker) -> None:
    machines = []
    for n in range(1, FLEET_SIZE + 1):
        db = tmp_path / f"m{n}" / "vending.db"
        db.parent.mkdir()
        machines.append(TelemetryServer(db,
                                        telemetry_config(broker.url, f"RPV{1000 + n}")))
    try:
        for wave in range(0, FLEET_SIZE, WAVE):  # a few at a time: start-up is CPU-heavy
            for machine in machines[wave:wave + WAVE]:
                machine.spawn()
            for machine in machines[wave:wave + WAVE]:
                machine.wait_ready(120)

        last: list[str] = []

        def table() -> list[str]:
            out = subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "--once",
                                  "--broker", broker.url], capture_output=True, text=True,
                                 timeout=60, check=True).stdout
            last[:] = [out]
            # the table's rows: not the totals, nor the notes under it ("RPV1003: ...")
            rows = [line.split() for line in out.splitlines()[1:]
                    if line.startswith("RPV") and not line.split()[0].endswith(":")]
            # online; the state is whatever each simulated machine is in (a loaded
            # laptop may make a simulated device miss a poll and fault for a while)
            return [r[0] for r in rows if r[1] == "yes"]

        try:
            online = wait_for(lambda: _all(table()), 60, "all machines")
        except AssertionError:
            raise AssertionError("not every machine online:\n" + "".join(last)) from None
        assert online == [f"RPV{1000 + n}" for n in range(1, FLEET_SIZE + 1)]
    finally:
        for machine in machines:
            if machine.proc is not None:
                machine.proc.terminate()
        for machine in machines:
            if machine.proc is not None:
                machine.proc.wait(30)


def _all(online: list[str]) -> list[str] | None:
    return online if len(online) == FLEET_SIZE else None
