"""SIGKILL the real ``vending run`` process mid-sale, restart it, count everything.

This is the power cut of a whole simulated machine: the process dies at a
random moment of a vend and its change payout, with no clean-up at all.  The
restarted process must find the same physical machine (the saved world), run
boot recovery, and account for every cent and product.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process import Server, cli, login

PRICE = 65
# a customer presses A1 from another process (the answer may never come)
PRESS = """
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/sim/press", data=b'{"keys":"A1"}',
                             headers={"Content-Type": "application/json"}, method="POST")
try:
    urllib.request.urlopen(req, timeout=5).read()
except OSError:
    pass
"""


@pytest.mark.timeout(240)
def test_sigkill_mid_sale_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "vending.db"
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    server = Server(db)
    server.start()
    rng = random.Random(7)
    inserted = 0
    try:
        server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                      "role": "seller"})
        seller = login(server, "sam", "seller-pass")
        server.call("POST", "/product", {"productName": "Cola", "cost": PRICE,
                                         "amountAvailable": 10, "slot": "A1"}, seller)
        for _ in range(6):
            server.call("POST", "/sim/coin", {"coin": 100})
            inserted += 100
            # press A1 without waiting for the answer, then kill at a random moment
            # of the vend (about 0.2 s) or the payout that follows
            req = subprocess.Popen([sys.executable, "-c", PRESS, str(server.port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.15 + rng.random() * 0.5)
            server.kill()
            req.wait(10)
            server.start()
        operator = login(server, "oper", "operator-pass")
        state = server.call("GET", "/machine", token=operator)
        if state["state"] == "credit":
            server.call("POST", "/sim/press", {"keys": "*"})
        sim = server.call("GET", "/sim/state")
        state = server.call("GET", "/machine", token=operator)
    finally:
        server.stop()
    assert state["panelCredit"] == 0
    audit = cli(db, "audit", "--verify")
    assert audit.returncode == 0, audit.stderr
    va1 = next(line for line in audit.stdout.splitlines() if line.startswith("VA1*"))
    sales_value, sales_count = (int(v) for v in va1.split("*")[1:3])
    # Money: what went in is sold or back in the cup.
    assert inserted == sales_value + sum(sim["returned"])
    assert sales_value == sales_count * PRICE
    # Goods: nothing charged that was not delivered; nothing vanished.
    checks = sum(1 for s in state["slots"] if s["status"] == "check")
    a1 = next(s for s in state["slots"] if s["slot"] == "A1")
    assert sales_count <= len(sim["tray"]) <= sales_count + 6
    assert a1["product"]["amountAvailable"] <= 10 - len(sim["tray"])
    world = json.loads((tmp_path / "vending.db.world.json").read_text())
    assert len(world["spirals"]["A1"]) == 10 - len(sim["tray"])
    # The database's coin inventory is the physical one.
    for row in state["coins"]:
        assert world["hoppers"][str(row["coin"])] == row["payout"], (row, world["hoppers"])
        assert world["cashbox"][str(row["coin"])] == row["cashbox"]
    assert checks in (0, 1)
