"""Random card sales against a real ``vending run`` with a simulated MDB card reader.

Cards presented with random funds, slot keys, coins, ``*``, the tray, reader
faults (``deny``, ``silent``, ``reset`` mid-session, ``clear``), a jammed
spiral, and SIGKILL at a random moment followed by a restart (the reader keeps
its power).  Checked from outside at every checkpoint: the card paid at most
for what was delivered plus the refunds owed on record, never more vends than
that; no card vend stays open once the reader answers; both ledger identities
hold.  ``VENDING_RANDOM_SEEDS`` runs more seeds (as ``test_random_actions``).
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.process import Server, cli, free_port, login
from tests.reliability.random_world import assert_no_server_error, request

SLOTS = ["A1", "A2", "B1"]
CONFIG = ('[mdb]\ninterface = "qibixx"\n[cashless]\nkind = "mdb"\nvend_timeout_s = 1.0\n')
SEEDS = int(os.environ.get("VENDING_RANDOM_SEEDS", "0"))
FIRST_SEED = int(os.environ.get("VENDING_RANDOM_FIRST_SEED", "100"))


class CardCustomers:
    def __init__(self, server: Server, operator: str, seed: int) -> None:
        self.server, self.operator = server, operator
        self.rng = random.Random(seed)
        self.log: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = request(self.server, method, path, body, self.operator)
        assert_no_server_error(answer, f"{method} {path} {body}")
        return answer

    def setup(self) -> None:
        self.call("POST", "/user", {"username": "seller", "password": "random-pass-1",
                                    "role": "seller"})
        seller = login(self.server, "seller", "random-pass-1")
        for slot in SLOTS:
            answer = request(self.server, "POST", "/product",
                             {"productName": f"snack-{slot}", "amountAvailable": 8,
                              "cost": self.rng.choice([50, 100, 150]), "slot": slot}, seller)
            assert answer.status == 201, answer

    def action(self) -> tuple[str, list[tuple[str, str, Any]]]:
        """One customer or technician action: its name and its requests, in order."""
        kind = self.rng.choices(["card_shop", "card", "press", "coin", "star", "take",
                                 "fault"], weights=[6, 1, 2, 1, 1, 2, 2])[0]
        slot = self.rng.choice(SLOTS)
        funds = self.rng.choice([0, 100, 200, 500, 1000])
        if kind == "card_shop":  # a card, then a selection
            return f"card_shop({funds},{slot})", [
                ("POST", "/sim/card", {"funds": funds}),
                ("POST", "/sim/press", {"keys": slot})]
        if kind == "card":
            return f"card({funds})", [("POST", "/sim/card", {"funds": funds})]
        if kind == "press":
            return f"press({slot})", [("POST", "/sim/press", {"keys": slot})]
        if kind == "coin":
            return "coin(50)", [("POST", "/sim/coin", {"coin": 50})]
        if kind == "star":
            return "star", [("POST", "/sim/press", {"keys": "*"})]
        if kind == "take":
            return "take", [("POST", "/sim/tray/take", None)]
        device, fault = self.rng.choice([("reader", "deny"), ("reader", "silent"),
                                         ("reader", "reset"), ("reader", "clear"),
                                         ("reader", "clear"), ("slot:A2", "jam")])
        return f"fault({device},{fault})", [("POST", "/sim/fault",
                                             {"device": device, "fault": fault})]

    def step(self) -> None:
        name, calls = self.action()
        if self.rng.random() < 0.15:  # the power goes while it runs
            self.log.append(name + " kill")

            def run() -> None:
                with contextlib.suppress(OSError):  # the machine died under the request
                    for method, path, body in calls:
                        request(self.server, method, path, body, self.operator)

            worker = threading.Thread(target=run)
            worker.start()
            time.sleep(self.rng.uniform(0.0, 0.5))
            self.server.kill()
            worker.join(30)
            self.server.start()
            return
        self.log.append(name)
        for method, path, body in calls:
            self.call(method, path, body)

    def mend(self) -> None:
        """The technician clears the reader and the spiral: everything settles."""
        for device in ("reader", "slot:A2"):
            self.call("POST", "/sim/fault", {"device": device, "fault": "clear"})
        self.call("PUT", "/machine/service", {"enabled": True})
        self.call("PUT", "/machine/service", {"enabled": False})


def check(customers: CardCustomers, *, settled: bool) -> dict[str, Any]:
    machine = customers.call("GET", "/machine").body
    card = customers.call("GET", "/sim/state").body["card"]
    reader = machine["reader"]
    sales, owed = reader["sales"], reader["refundsOwed"]
    charged = card["charged"]
    assert machine["ledgerBalanced"], machine
    assert sum(charged) <= sales["value"] + sales["refunds"], (charged, reader)
    assert len(charged) <= sales["count"] + len(owed), (charged, reader)
    if settled:
        assert reader["openCardVends"] == 0, reader
        # every delivered card vend was charged once, every charge for nothing is owed
        assert sum(charged) == sales["value"] + sales["refunds"], (charged, reader)
    return {"charged": sum(charged), "cardSales": sales["value"], "owed": sales["refunds"]}


@pytest.mark.timeout(900 if SEEDS else 180)
@pytest.mark.parametrize("seed", list(range(FIRST_SEED, FIRST_SEED + SEEDS)) if SEEDS
                         else [1, 2])
def test_random_card_sales_never_charge_for_nothing(seed: int, tmp_path: Path) -> None:
    db, config = tmp_path / "vending.db", tmp_path / "vending.toml"
    config.write_text(CONFIG)
    assert cli(db, "user", "add", "oper", "--role", "operator", "--password-stdin",
               stdin="operator-pass\n").returncode == 0
    server = Server(db, free_port(), args=("--sim", "--config", str(config)))
    server.start()
    customers = CardCustomers(server, login(server, "oper", "operator-pass"), seed)
    try:
        customers.setup()
        for n in range(1, 41):
            customers.step()
            if n % 8 == 0:
                check(customers, settled=False)
        customers.mend()
        deadline = time.monotonic() + 20
        while customers.call("GET", "/machine").body["reader"]["openCardVends"]:
            assert time.monotonic() < deadline, "card vends left open"
            time.sleep(0.1)
        figures = check(customers, settled=True)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}\nactions: {customers.log}") from None
    finally:
        server.stop()
    print({"seed": seed, **figures, "actions": customers.log})
