"""SIGTERM (systemctl stop, a shutdown) in the middle of a vend or a payout.

Unlike a power cut, a stop is announced: the process refuses coins, lets the
running spiral turn and its change payout finish, settles the journals and
closes the ports, all within 5 s.  After a restart the books balance and the
goods match them exactly: every product in the tray was charged, every
charged product is in the tray.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process import Server, cli, login
from tests.reliability.test_kill import PRESS

PRICE = 65
STOP_S = 5.0


def _sigterm(server: Server) -> float:
    assert server.proc is not None
    began = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    return time.monotonic() - began


def _setup(server: Server) -> None:
    server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                  "role": "seller"})
    seller = login(server, "sam", "seller-pass")
    server.call("POST", "/product", {"productName": "Cola", "cost": PRICE,
                                     "amountAvailable": 10, "slot": "A1"}, seller)


@pytest.mark.timeout(240)
def test_sigterm_mid_vend_and_mid_payout_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "vending.db"
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    server = Server(db)
    server.start()
    rng = random.Random(11)
    inserted, stops = 0, []
    try:
        _setup(server)
        for round_ in range(6):
            server.call("POST", "/sim/coin", {"coin": 100})
            server.call("POST", "/sim/coin", {"coin": 50})
            inserted += 150
            # a sale (85 change from three hoppers) or a coin return (150 back),
            # stopped at a random moment of the turn or the payout
            keys = "A1" if round_ % 2 == 0 else "*"
            press = subprocess.Popen([sys.executable, "-c", PRESS.replace("A1", keys),
                                      str(server.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.1 + rng.random() * 0.3)
            stops.append(_sigterm(server))
            press.wait(10)
            server.start()
        operator = login(server, "oper", "operator-pass")
        state = server.call("GET", "/machine", token=operator)
        if state["panelCredit"]:
            server.call("POST", "/sim/press", {"keys": "*"})
        sim = server.call("GET", "/sim/state")
        state = server.call("GET", "/machine", token=operator)
    finally:
        server.stop()
    print(json.dumps({"sigterm_stop_s": [round(s, 3) for s in stops]}))
    assert max(stops) < STOP_S
    assert state["panelCredit"] == 0
    audit = cli(db, "audit", "--verify")
    assert audit.returncode == 0, audit.stderr
    va1 = next(line for line in audit.stdout.splitlines() if line.startswith("VA1*"))
    sales_value, sales_count = (int(v) for v in va1.split("*")[1:3])
    assert inserted == sales_value + sum(sim["returned"])
    assert sales_value == sales_count * PRICE
    assert sales_count == len(sim["tray"])  # a clean stop: what was charged was delivered
    assert all(s["status"] == "ok" for s in state["slots"])
    world = json.loads((tmp_path / "vending.db.world.json").read_text())
    for row in state["coins"]:
        assert world["hoppers"][str(row["coin"])] == row["payout"]
        assert world["cashbox"][str(row["coin"])] == row["cashbox"]
