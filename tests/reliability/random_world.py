"""The books of a real ``vending run`` against its simulated physical world.

A random-action run (``test_random_actions.py``) calls ``check_books`` at every
checkpoint.  Everything here goes through the public API, the ``vending``
command and the world file beside the database (read only, never written):

- both ledger identities hold (``vending audit --verify``);
- the coins in the machine per the books (``GET /machine``: payout and cashbox
  per coin) are the coins in the simulated hoppers and cashbox;
- what the customers' side knows went in (coins offered at the slot and by
  deposits, less everything that came out into the coin cup) is what the books
  say went in less the change paid, and covers every credit and every sale:
  no credit is made from nothing;
- products in the delivery tray are at least the paid vends, and at most the
  paid vends plus those whose outcome was unknown or failed; the stock in the
  books is never more than the products in the spirals.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.process import Server, cli

SETTLED_STATES = ("idle", "credit", "out_of_service", "service")


@dataclass
class Answer:
    status: int
    body: Any


def request(server: Server, method: str, path: str, body: Any = None,
            token: str | None = None, timeout_s: float = 20.0) -> Answer:
    """One API call; an HTTP error is an answer too (its status and error body)."""
    data = b"" if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}",
                                 data=None if method == "GET" else data, method=method)
    if method != "GET":
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            raw = resp.read()
            ctype = resp.headers.get("Content-Type", "")
            return Answer(resp.status, json.loads(raw) if "json" in ctype else raw.decode())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(exc.code, parsed)


def assert_no_server_error(answer: Answer, what: str) -> None:
    """No 5xx but the 503 ``out_of_service`` the contract names."""
    if answer.status < 500:
        return
    code = answer.body.get("error", {}).get("code") if isinstance(answer.body, dict) else None
    assert answer.status == 503 and code == "out_of_service", (what, answer.status, answer.body)


@dataclass
class Outside:
    """What the customers' side saw: coins offered, coins and products taken out."""

    offered_cents: int = 0  # coins whose call answered (accepted or refused)
    uncertain_cents: int = 0  # coins offered by a call that a kill cut short
    taken_coins: list[int] = field(default_factory=list)
    taken_products: list[str] = field(default_factory=list)
    cut_vends: int = 0  # vends a kill may have cut (product out, sale unknown)
    # coins offered while the acceptor was reset or off the bus: a ccTalk acceptor
    # that resets between two polls loses its unread events (the coin is in, its
    # credit is not), which the controller sees only as a device reset
    swallow_cents: int = 0
    # coins of calls a kill cut short: the simulated acceptor may have put the coin
    # in its hopper without its credit event (test_random_regressions.py, 1)
    cut_coin_cents: int = 0
    buyers: dict[str, str] = field(default_factory=dict)  # username -> access token


def read_world(db: Path) -> dict[str, Any]:
    """The simulated machine's physical state, as saved beside the database."""
    return dict(json.loads(Path(f"{db}.world.json").read_text(encoding="utf-8")))


def audit_figures(text: str) -> dict[str, int]:
    """Lifetime figures of the EVA-DTS report this check needs."""
    fields = {line.split("*")[0]: line.split("*")[1:] for line in text.splitlines()}
    # VA1 lifetime first; CA3, CA4 and EA2 since the last reset first, then lifetime;
    # ELA (a vend that delivered nothing) is sent only once one happened
    ela = next((line.split("*")[1:] for line in text.splitlines()
                if line.startswith("EA2*ELA*")), None)
    return {"sales_value": int(fields["VA1"][0]), "sales_count": int(fields["VA1"][1]),
            "cash_in": int(fields["CA3"][4]), "change_paid": int(fields["CA4"][2]),
            "failed_vends": int(ela[2]) if ela else 0}


def wait_settled(server: Server, operator: str, timeout_s: float = 20.0) -> dict[str, Any]:
    """``GET /machine`` once nothing moves: a settled state, the same twice over."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        answer = request(server, "GET", "/machine", token=operator)
        assert answer.status == 200, answer
        state = answer.body
        snapshot = (state["state"], state["panelCredit"], state["coins"],
                    read_world(server.db)["hoppers"])
        if state["state"] in SETTLED_STATES and snapshot == last:
            return dict(state)
        last = snapshot
        time.sleep(0.25)
    raise AssertionError(f"the machine did not settle: {last}")


def check_books(server: Server, operator: str, outside: Outside) -> dict[str, Any]:
    """Every invariant of the module docstring; returns the figures it read."""
    assert server.proc is not None and server.proc.poll() is None, "the process exited"
    state = wait_settled(server, operator)
    world = read_world(server.db)
    verify = cli(server.db, "audit", "--verify")
    assert verify.returncode == 0, verify.stdout[-1500:] + verify.stderr[-1500:]
    audit = audit_figures(verify.stdout)
    unsure = unaccounted_payouts(state)
    swallowed = _check_coins(state, world, unsure)
    allowed = outside.swallow_cents + outside.cut_coin_cents
    assert swallowed <= allowed, ("coins in the world the books miss", swallowed, allowed)
    if swallowed > outside.cut_coin_cents:
        assert acceptor_trouble_logged(server, operator), "coins swallowed without a trace"
    _check_credit(server, state, world, outside, audit,
                  sum(coin * count for coin, count in unsure.items()))
    _check_goods(state, world, outside, audit)
    return {"state": state["state"], **audit}


UNACCOUNTED = re.compile(r"hopper (\d+)c cannot tell whether it paid (\d+) coin")


def unaccounted_payouts(state: dict[str, Any]) -> dict[int, int]:
    """Coins per hopper that a latched fault says may or may not have been paid
    (a Flow hopper's lost reply whose figures repeat its last payout's): the
    books keep them and owe their value until an operator counts the hopper."""
    unsure: dict[int, int] = {}
    for fault in state["faults"]:
        match = UNACCOUNTED.search(fault["reason"])
        if match and fault["latched"]:
            coin = int(match.group(1))
            unsure[coin] = unsure.get(coin, 0) + int(match.group(2))
    return unsure


def _check_coins(state: dict[str, Any], world: dict[str, Any], unsure: dict[int, int]) -> int:
    """Books against world per coin; the value of coins the books miss (swallowed)."""
    swallowed = 0
    for row in state["coins"]:
        coin = str(row["coin"])
        hopper, cashbox = world["hoppers"][coin], world["cashbox"][coin]
        assert row["payout"] - unsure.get(row["coin"], 0) <= hopper, (
            "hopper", row, world["hoppers"])
        assert row["cashbox"] <= cashbox, ("cashbox", row, world["cashbox"])
        swallowed += (hopper - row["payout"] + cashbox - row["cashbox"]) * row["coin"]
    return swallowed


def acceptor_trouble_logged(server: Server, operator: str) -> bool:
    """The event log says the acceptor reset or lost events."""
    after = 0
    while True:
        answer = request(server, "GET", f"/machine/events?after={after}&limit=1000",
                         token=operator)
        assert answer.status == 200, answer
        if not answer.body:
            return False
        if any(e["kind"].startswith("acceptor") and ("reset" in e["kind"] or "lost" in e["kind"])
               for e in answer.body):
            return True
        after = answer.body[-1]["id"]


def _check_credit(server: Server, state: dict[str, Any], world: dict[str, Any],
                  outside: Outside, audit: dict[str, int], unsure_cents: int) -> None:
    cup_cents = sum(outside.taken_coins) + sum(world["cup"])
    low = outside.offered_cents - cup_cents
    high = low + outside.uncertain_cents + unsure_cents
    books_in = audit["cash_in"] - audit["change_paid"]
    swallow = outside.swallow_cents + outside.cut_coin_cents
    assert low - swallow <= books_in <= high, ("coins in less change", low, books_in, high,
                                               swallow)
    deposits = 0
    for name, token in outside.buyers.items():
        answer = request(server, "GET", "/user", token=token)
        assert answer.status == 200, (name, answer)
        deposits += int(answer.body["deposit"])
    held = deposits + state["panelCredit"] + audit["sales_value"]
    # What is not held is change still owed (a payout short of coins), never the reverse.
    assert held <= books_in, ("credit from nothing", deposits, state["panelCredit"],
                              audit["sales_value"], books_in)


def _check_goods(state: dict[str, Any], world: dict[str, Any], outside: Outside,
                 audit: dict[str, int]) -> None:
    dispensed = len(outside.taken_products) + len(world["tray"])
    paid = audit["sales_count"]
    slack = audit["failed_vends"] + outside.cut_vends
    assert paid <= dispensed <= paid + slack, ("tray vs paid vends", paid, dispensed, slack)
    missing = 0
    for slot in state["slots"]:
        product = slot["product"]
        if product is None:
            continue
        in_spiral = len(world["spirals"].get(slot["slot"], []))
        books = int(product["amountAvailable"])
        assert books <= in_spiral, ("stock in books above the spiral", slot, in_spiral)
        missing += in_spiral - books
    assert missing <= slack, ("stock written off beyond unknown vends", missing, slack)
