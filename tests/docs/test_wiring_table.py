"""The README's wiring table is the example config's, and the example config is one a
real Pi accepts."""

from __future__ import annotations

import re
import subprocess
import sys

from controller import config as config_mod
from controller.config.wiring import wiring_rows, wiring_table
from tests.docs.readme import ROOT, text

EXAMPLE = ROOT / "systemd" / "vending.toml"


def readme_table() -> str:
    found = re.search(r"<!-- wiring:[^>]*-->\n((?:\|.*\n)+)", text())
    assert found, "README.md has no marked wiring table"
    return found.group(1).rstrip("\n")


def test_the_readme_table_is_the_example_configs() -> None:
    assert readme_table() == wiring_table(config_mod.load(EXAMPLE))


def test_the_example_config_passes_check_config_as_real_hardware() -> None:
    run = subprocess.run([sys.executable, "-m", "controller.cli", "check-config", str(EXAMPLE)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "real hardware" in run.stdout and run.stdout.endswith("config OK\n")


def test_the_example_is_not_the_built_in_simulators_wiring() -> None:
    example, built_in = config_mod.load(EXAMPLE), config_mod.Config()
    assert not example.machine.simulated
    assert wiring_rows(example) != wiring_rows(built_in)
    # the simulator's keypad sits on GPIO0/1, which a real Pi keeps for the HAT EEPROM
    assert not {0, 1} & set(example.keypad.column_pins + example.keypad.row_pins)


def test_wiring_prints_a_pulse_devices_pins() -> None:
    cfg = config_mod.parse({
        "acceptor": {"kind": "pulse", "pulse_pin": 14, "inhibit_pin": 15},
        "slots": {"columns": 4}, "motors": {"column_pins": [16, 19, 20, 21]},
        "hoppers": [{"coin_cents": 50, "kind": "pulse", "motor_pin": 26, "sensor_pin": 4}]},
        source="t")
    parts = {part: side for part, side, _ in wiring_rows(cfg)}
    assert parts["pulse coin acceptor"] == "pulse GPIO14, inhibit GPIO15"
    assert parts["pulse hopper 50c"] == "motor GPIO26, exit sensor GPIO4"
    assert not any(p.startswith("ccTalk") for p in parts)
