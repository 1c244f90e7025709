"""``GET /metrics``: who may read it, and that it follows the machine's event stream."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from tests.api.conftest import Account

pytestmark = pytest.mark.asyncio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed by prometheus-client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def read(client: TestClient[Any, Any], operator: Account) -> dict[Any, float]:
    response = await client.get("/metrics", headers=operator.auth)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(await response.text())


async def test_metrics_are_for_operators(client: TestClient[Any, Any], operator: Account,
                                         buyer: Account) -> None:
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=buyer.auth)).status == 403
    assert (await client.get("/metrics", headers=operator.auth)).status == 200


async def test_metrics_follow_published_events(client: TestClient[Any, Any], machine: Any,
                                               operator: Account) -> None:
    before = await read(client, operator)
    assert before[("vending_state", (("state", "idle"),))] == 1
    assert before[("vending_hopper_coins", (("coin", "50"),))] == 20
    assert ("vending_cashbox_coins", (("coin", "100"),)) in before
    assert before[("vending_credit_outstanding_cents", ())] == 0
    assert any(name.startswith("process_") for name, _ in before)  # process metrics
    stream = machine.stream
    stream.publish("coin", coin=100, holder="panel", route="hopper")
    stream.publish("vend", slot="A1", productId=1, result="paid", cents=65)
    stream.publish("payout", holder="panel", coins=[20, 10, 5], unpaid=0)
    stream.publish("payout", holder="panel", coins=[5], unpaid=0)
    stream.publish("faults", faults=[{"device": "hopper:50", "reason": "empty",
                                      "latched": False}])
    stream.publish("device", device="acceptor", ok=False, error="no reply")
    stream.publish("state", state="credit", previous="idle")
    for _ in range(100):
        await asyncio.sleep(0.01)
        now = await read(client, operator)
        if now.get(("vending_state", (("state", "credit"),))) == 1:
            break
    assert now[("vending_coins_accepted_total", (("coin", "100"),))] == 1
    assert now[("vending_vends_total", (("result", "paid"), ("slot", "A1")))] == 1
    assert now[("vending_payout_coins_total", (("coin", "5"),))] == 2
    assert now[("vending_payout_coins_total", (("coin", "20"),))] == 1
    assert now[("vending_fault", (("device", "hopper:50"),))] == 1
    assert now[("vending_device_errors_total", (("device", "acceptor"),))] == 1
    assert now[("vending_state", (("state", "idle"),))] == 0
    stream.publish("faults", faults=[])
    await asyncio.sleep(0.05)
    assert (await read(client, operator))[("vending_fault", (("device", "hopper:50"),))] == 0


async def test_request_durations_by_route_template(client: TestClient[Any, Any],
                                                   operator: Account) -> None:
    await client.get("/product/12345")
    await client.get("/no/such/path")
    now = await read(client, operator)
    key = ("vending_http_request_duration_seconds_count",
           (("method", "GET"), ("route", "/product/{id}"), ("status", "404")))
    assert now[key] == 1
    assert any(dict(labels).get("route") == "unmatched" for name, labels in now
               if name == "vending_http_request_duration_seconds_count")


async def test_public_metrics_need_no_token(machine: Any) -> None:
    from controller.config import MetricsConfig

    original = machine.config
    machine.config = replace(original, metrics=MetricsConfig(public=True))
    try:
        async with TestClient(TestServer(create_app(machine))) as anonymous:
            response = await anonymous.get("/metrics")
            assert response.status == 200
            assert "vending_state" in await response.text()
    finally:
        machine.config = original


async def test_public_is_read_from_the_config(tmp_path: Path) -> None:
    from controller.config import load

    path = tmp_path / "vending.toml"
    path.write_text("[metrics]\npublic = true\n")
    assert load(path).metrics.public
    path.write_text("[metrics]\npublik = true\n")
    with pytest.raises(ValueError, match="publik"):
        load(path)
