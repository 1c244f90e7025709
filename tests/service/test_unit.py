"""The systemd units: they verify where systemd-analyze exists, and say what the design asks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNITS = ("vending.service", "vending-backup.service", "vending-backup.timer")


def _directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (SYSTEMD / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.timeout(60)
def test_units_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    vending = Path(sys.executable).with_name("vending")
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text().replace("/opt/vending/.venv/bin/vending",
                                                    str(vending))
        (tmp_path / unit).write_text(text)
    result = subprocess.run([tool, "verify", *(str(tmp_path / u) for u in UNITS)],
                            capture_output=True, text=True, timeout=50, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_service_is_supervised_and_hardened() -> None:
    d = _directives("vending.service")
    assert d["Type"] == ["notify"] and d["Restart"] == ["always"]
    assert int(d["WatchdogSec"][0]) >= 20  # twice the longest device step, at least
    for key, value in {"ProtectSystem": "strict", "StateDirectory": "vending",
                       "ConfigurationDirectory": "vending", "DevicePolicy": "closed",
                       "CapabilityBoundingSet": "", "NoNewPrivileges": "yes"}.items():
        assert d[key] == [value], key
    assert "char-gpiochip rw" in d["DeviceAllow"]
    assert "AF_PACKET" not in d["RestrictAddressFamilies"][0]
    assert "LimitNOFILE" in d
