"""Suite-wide: the tests run in parallel (pytest-xdist, see pyproject.toml), but the ones
that load the machine on purpose or time something share one worker, one at a time.

Most tests wait for simulated hardware, not the CPU, so several run side by side.
Tests that measure time under load (an attack that must not delay the operator past
3 s, a watchdog, benchmarks) or start many processes (a fleet, kill-and-restart runs)
would measure each other instead: they go to one group, run in turn on one worker.
"""

from __future__ import annotations

import pytest

ONE_AT_A_TIME = (
    "tests/reliability/",
    "tests/perf/",
    "tests/service/",
    "tests/fleet/test_fleet_of_twenty.py",
    "tests/api/test_fair_connections.py",
    "tests/api/test_live_fair.py",
    "tests/api/test_throttle.py",
    "tests/api/test_connections.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(ONE_AT_A_TIME):
            item.add_marker(pytest.mark.xdist_group("one_at_a_time"))
