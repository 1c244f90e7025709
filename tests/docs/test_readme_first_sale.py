"""The README's first sale, pasted into bash as a newcomer would, against a live
``vending run`` on a port of the system's choosing and a database of its own."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docs.readme import marked_block, text

DEFAULT_API = "API=http://127.0.0.1:8080"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """``vending run --port 0`` in ``tmp_path``; the base URL with the port it got."""
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "run", "--port", "0",
                                 "--db", str(tmp_path / "state" / "vending.db")],
                                stdout=log, stderr=log, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"serving on (http://127\.0\.0\.1:\d+)",
                                      log_path.read_text(errors="replace"))):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "vending run did not serve"
            time.sleep(0.05)
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def test_every_call_is_spelled_out() -> None:
    block = marked_block("first-sale")
    assert DEFAULT_API in block.splitlines(), "the README tells a human the default port"
    for path in ("/login", "/product", "/deposit", "/buy"):
        assert f"$API{path} " in block
    posts = [line for line in block.splitlines() if "-XPOST" in line]
    assert posts and all('-H "$JSON"' in line for line in posts), "a POST without its type"
    assert "JSON='Content-Type: application/json'" in block
    assert block.count('"Authorization: Bearer $') == 3
    assert "/openapi.json" in text()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
@pytest.mark.timeout(90)
def test_the_first_sale_runs_as_pasted(api: str, tmp_path: Path) -> None:
    block = marked_block("first-sale").replace(DEFAULT_API, f"API={api}")
    # what a person sees on screen, but any HTTP error stops the script
    script = ('set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; echo; }\n'
              + block)
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         timeout=60, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    bought = next(a for a in answers if "totalSpent" in a)
    assert (bought["totalSpent"], bought["change"]) == (65, [20, 10, 5])
    assert bought["product"]["productName"] == "Cola"

    deadline = time.monotonic() + 10
    while (state := get(f"{api}/sim/state"))["tray"] != ["Cola", "Cola"] \
            or state["state"] != "idle":
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert sorted(state["returned"]) == [5, 5, 10, 10, 20, 20]
    assert "/product" in get(f"{api}/openapi.json")["paths"]
