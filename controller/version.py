"""The software version: the installed package's, from its metadata (pyproject.toml)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "vending-controller"


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "0+unknown"


VERSION = _version()
