"""``/metrics`` of a real ``vending run`` moves with a sale (public by config)."""

from __future__ import annotations

import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.process import Server, login

PRICE = 65


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = server.call("GET", "/metrics")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape_when(server: Server, name: str, at_least: float,
                **labels: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A scrape once the subscriber has taken the events (it follows, it does not block)."""
    deadline = time.monotonic() + 5
    while True:
        samples = scrape(server)
        if value(samples, name, **labels) >= at_least or time.monotonic() > deadline:
            return samples
        time.sleep(0.02)


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.timeout(60)
def test_counters_move_with_a_sale(tmp_path: Path) -> None:
    config = tmp_path / "vending.toml"
    config.write_text("[metrics]\npublic = true\n")
    server = Server(tmp_path / "vending.db", args=("--sim", "--config", str(config)))
    server.start()
    try:
        server.call("POST", "/user", {"username": "sam", "password": "seller-pass",
                                      "role": "seller"})
        seller = login(server, "sam", "seller-pass")
        server.call("POST", "/product", {"productName": "Cola", "cost": PRICE,
                                         "amountAvailable": 10, "slot": "A1"}, seller)
        before = scrape(server)
        server.call("POST", "/sim/coin", {"coin": 100})
        scrape_when(server, "vending_credit_outstanding_cents", 100)
        during = scrape_when(server, "vending_state", 1, state="credit")
        server.call("POST", "/sim/press", {"keys": "A1"})
        scrape_when(server, "vending_payout_coins_total", 1, coin="5")
        after = scrape_when(server, "vending_state", 1, state="idle")
    finally:
        server.stop()
    assert value(before, "vending_state", state="idle") == 1
    assert value(during, "vending_state", state="credit") == 1
    assert value(during, "vending_credit_outstanding_cents") == 100
    assert value(after, "vending_coins_accepted_total", coin="100") == 1
    assert value(after, "vending_vends_total", slot="A1", result="paid") == 1
    paid = {c: value(after, "vending_payout_coins_total", coin=c) for c in ("20", "10", "5")}
    assert paid == {"20": 1, "10": 1, "5": 1}  # 35 change
    assert value(after, "vending_hopper_coins", coin="100") == \
        value(before, "vending_hopper_coins", coin="100") + 1
    assert value(after, "vending_hopper_coins", coin="20") == \
        value(before, "vending_hopper_coins", coin="20") - 1
    assert value(after, "vending_credit_outstanding_cents") == 0
    assert value(after, "vending_state", state="idle") == 1
    assert value(after, "vending_http_request_duration_seconds_count", method="POST",
                 route="/sim/coin", status="200") == 1


@pytest.mark.timeout(60)
def test_metrics_need_an_operator_by_default(tmp_path: Path) -> None:
    server = Server(tmp_path / "vending.db")
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            server.call("GET", "/metrics")
    finally:
        server.stop()
    assert refused.value.code == 401


@pytest.mark.timeout(60)
def test_money_counters_exist_at_zero_from_the_first_scrape(tmp_path: Path) -> None:
    config = tmp_path / "vending.toml"
    config.write_text("[metrics]\npublic = true\n")
    server = Server(tmp_path / "vending.db", args=("--sim", "--config", str(config)))
    server.start()
    try:
        first = scrape(server)  # nothing sold, nothing inserted
    finally:
        server.stop()
    coins = ("5", "10", "20", "50", "100")
    slots = [f"{row}{col}" for row in "ABCD" for col in range(1, 7)]
    for coin in coins:
        assert first[("vending_coins_accepted_total", (("coin", coin),))] == 0
        assert first[("vending_payout_coins_total", (("coin", coin),))] == 0
    for slot in slots:
        for result in ("paid", "failed"):
            assert first[("vending_vends_total", (("result", result), ("slot", slot)))] == 0
    vends = [labels for name, labels in first if name == "vending_vends_total"]
    assert len(vends) == len(slots) * 2
