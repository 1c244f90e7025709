#!/usr/bin/env python3
"""Every dependency of the README's two commands arrives as a prebuilt wheel on a Pi.

For Raspberry Pi OS Bookworm (Python 3.11, glibc 2.36) on 64-bit (aarch64) and
32-bit (armv7l) ARM, resolve what ``pip install -e .`` and ``pip install -e
'.[test]'`` would install (the build backend too), with ``pip download
--only-binary=:all:`` for that platform: no emulation, no compiler, a few seconds
per platform.  A dependency with no wheel for a Pi (it would need a compiler
there) fails the check and is named; so does one for which pip, held to wheels,
had to go back to an older release than it picks on x86_64 (on a Pi, free to
build from source, pip would take the newest and try to compile it).

pip evaluates environment markers for the machine it runs on, not the target, so
the markers of the project's own requirements are evaluated here for each target
(that is how the test extra leaves out tools with no 32-bit ARM wheel); the
markers of indirect dependencies are pip's, for this machine (none of ours
depends on the machine type today).

    python3 .ci/check_wheels.py [--arch aarch64|armv7l] [--pip PIP]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"
GLIBC_MINORS = range(17, 37)  # manylinux_2_17 .. manylinux_2_36 (Bookworm's glibc)
TARGETS = {
    "aarch64": {"platform_machine": "aarch64"},
    "armv7l": {"platform_machine": "armv7l"},
}


def environment(arch: str) -> dict[str, str]:
    """The marker environment of Python 3.11 on Raspberry Pi OS for ``arch``."""
    return {"python_version": PYTHON, "python_full_version": "3.11.2", "os_name": "posix",
            "sys_platform": "linux", "platform_system": "Linux",
            "platform_python_implementation": "CPython", "implementation_name": "cpython",
            "implementation_version": "3.11.2", "platform_release": "", "platform_version": "",
            **TARGETS[arch]}


def requirements(arch: str, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The build backend, the runtime and the test extra's requirements that apply on
    ``arch``, without their markers (already evaluated)."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    wanted = [*data["build-system"]["requires"], *data["project"]["dependencies"],
              *data["project"]["optional-dependencies"]["test"]]
    env = environment(arch)
    out = []
    for line in wanted:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({**env, "extra": "test"}):
            req.marker = None
            out.append(str(req))
    return out


def platforms(arch: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS]
    return [*tags, f"manylinux2014_{arch}"]


def resolve(platform_arch: str, wanted: list[str], pip: list[str]) -> tuple[dict[str, str], str]:
    """{package: version} of the wheels ``pip download`` picks for ``platform_arch``
    (empty and pip's words when it finds none for some package)."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [*pip, "download", "--quiet", "--only-binary=:all:", "--dest", scratch,
                   "--python-version", PYTHON, "--implementation", "cp",
                   *(f"--platform={p}" for p in platforms(platform_arch)), *wanted]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = [p.name for p in Path(scratch).glob("*.whl")]
    if done.returncode != 0:
        return {}, "\n".join(line for line in (done.stdout + done.stderr).splitlines()
                             if "is ignored" not in line)
    found = {}
    for wheel in wheels:
        name, version = wheel.split("-")[:2]
        found[re.sub(r"[-_.]+", "_", name).lower()] = version
    return found, ""


def check(arch: str, pip: list[str]) -> tuple[bool, str]:
    """Resolve for ``arch``, and for x86_64 (where every package has its wheels) as the
    reference: a package found for ``arch`` at another version than the reference's
    means pip went back to an older release because the newest has no wheel there,
    which a Pi (free to build from source) would not do: it would try to compile."""
    wanted = requirements(arch)
    found, words = resolve(arch, wanted, pip)
    if not found:
        return False, words
    reference, words = resolve("x86_64", wanted, pip)
    if not reference:
        return False, "the x86_64 reference did not resolve: " + words
    older = [f"{name} {found[name]} (the newest, {reference[name]}, has no {arch} wheel)"
             for name in sorted(found) if name in reference and found[name] != reference[name]]
    if older:
        return False, "; ".join(older)
    return True, f"{len(found)} wheels, the same releases as on x86_64"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(TARGETS), action="append",
                        help="a target (default: both)")
    parser.add_argument("--pip", default=f"{sys.executable} -m pip",
                        help="the pip to run (default: this Python's)")
    args = parser.parse_args(argv)
    failed = []
    for arch in args.arch or sorted(TARGETS):
        ok, words = check(arch, args.pip.split())
        print(f"wheels for Python {PYTHON} on {arch}: {'OK' if ok else 'MISSING'}: {words}")
        if not ok:
            failed.append(arch)
    if failed:
        print("a dependency would need a compiler on a Pi (" + ", ".join(failed) + "): give "
              "it a marker in pyproject.toml, or pick one with wheels", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
