"""Tools the test extra leaves out where they have no prebuilt wheel (pyproject.toml).

On 32-bit ARM (Raspberry Pi OS armhf: ``platform_machine`` armv6l, armv7l or armv8l)
there is no wheel of mypy's compiled dependency (``librt``) nor of schemathesis'
``jsonschema-rs``, and building them needs a C compiler and a newer Rust than the
system's.  The README's test command must work there with only python3 and
python3-venv, so those tools are not installed on that platform, and the tests that
need them are skipped with this reason; everywhere else (CI included) they run.
"""

from __future__ import annotations

import importlib.util
import platform

import pytest

THIRTY_TWO_BIT_ARM = ("armv6l", "armv7l", "armv8l")
WHY = {
    "mypy": "mypy needs librt, which has no 32-bit ARM wheel (it would need a C compiler)",
    "schemathesis": "schemathesis needs jsonschema-rs, which has no 32-bit ARM wheel "
                    "(it would need Rust 1.85 or newer)",
}


def require(module: str) -> None:
    """Skip the calling test module (or test) when ``module`` is not installed: on 32-bit
    ARM, where the test extra leaves it out; anywhere else a missing tool is an error."""
    if importlib.util.find_spec(module) is not None:
        return
    if platform.machine() in THIRTY_TWO_BIT_ARM:
        pytest.skip(f"not on 32-bit ARM ({platform.machine()}): {WHY[module]}",
                    allow_module_level=True)
    raise AssertionError(f"{module} is not installed: run pip install -e '.[test]'")
