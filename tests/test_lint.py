"""ruff and mypy are part of the suite: a lint or type error fails the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.optional import require

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_mypy_is_clean() -> None:
    require("mypy")  # not installed on 32-bit ARM (tests/optional.py says why)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "controller", "api", "drivers", "simulators"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
