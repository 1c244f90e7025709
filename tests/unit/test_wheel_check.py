"""The Pi wheel check (.ci/check_wheels.py, run by CI) reads the project's own
requirements for each target as pip would there: the markers are the target's."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def check_wheels() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_wheels", ROOT / ".ci/check_wheels.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names(requirements: list[str]) -> set[str]:
    from packaging.requirements import Requirement

    return {Requirement(r).name for r in requirements}


def test_32_bit_arm_leaves_out_the_tools_with_no_wheel_there() -> None:
    cw = check_wheels()
    arm64, armhf = names(cw.requirements("aarch64")), names(cw.requirements("armv7l"))
    assert {"mypy", "schemathesis"} <= arm64
    assert arm64 - armhf == {"mypy", "schemathesis"}
    assert {"setuptools", "aiohttp", "orjson", "pytest", "ruff", "hypothesis"} <= armhf
    assert all(";" not in r for r in cw.requirements("armv7l"))  # markers evaluated


def test_the_platform_tags_are_bookworms() -> None:
    tags = check_wheels().platforms("armv7l")
    assert "manylinux_2_36_armv7l" in tags and "manylinux2014_armv7l" in tags
    assert "manylinux_2_38_armv7l" not in tags  # newer than Bookworm's glibc


def test_the_readme_commands_install_what_the_check_checks() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/pip install -q -e . && .venv/bin/vending run" in readme
    assert ".venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest" in readme
    assert ".ci/check_wheels.py" in (ROOT / ".ci/run").read_text(encoding="utf-8")
