"""One buyer cannot hold the coin slot hostage by chaining deposit claims.

The attack as it was seen: a claim times out after ``deposit_claim_s`` and the
same buyer starts the next at once, again and again; meanwhile walk-up coins
of other values are refused.  A claim that ended without a coin (timeout or
``*``) makes that account wait ``deposit_claim_cooldown_s``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from controller import config
from controller.config.describe import describe
from controller.errors import ConfigError
from controller.payment.claims import ClaimCooldown
from tests.api.conftest import Account, error_of, make_account

pytestmark = pytest.mark.timeout(60)
COOLDOWN_S = 1.5


@pytest.fixture(autouse=True)
def _buyer_never_walks_up(app: web.Application) -> None:
    machine = app[MACHINE_KEY]
    if getattr(machine, "sim", None) is None:
        pytest.skip("needs the simulated machine")
    machine.sim.simulated_machine.claim_walk_s = 10.0  # nobody brings the claimed coin


async def _deposit(client: TestClient[Any, Any], buyer: Account, coin: int = 20) -> Any:
    return await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)


async def _display_shows(client: TestClient[Any, Any], lines: list[str]) -> None:
    for _ in range(500):
        if (await (await client.get("/sim/state")).json())["display"] == lines:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the LCD never showed {lines}")


async def _refused_for_a_while(client: TestClient[Any, Any], buyer: Account) -> None:
    r = await _deposit(client, buyer)
    assert (r.status, (await error_of(r))["code"]) == (429, "too_many_attempts")
    assert 1 <= int(r.headers["Retry-After"]) <= COOLDOWN_S + 1


@pytest.mark.asyncio
@pytest.mark.machine_config(deposit_claim_s=0.3, deposit_claim_cooldown_s=COOLDOWN_S)
async def test_a_claim_that_timed_out_makes_its_account_wait(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    started = time.monotonic()
    r = await _deposit(client, buyer)
    assert r.status == 408
    await _refused_for_a_while(client, buyer)
    # meanwhile the slot is free: a walk-up coin of another value goes in
    r = await client.post("/sim/coin", json={"coin": 50})
    assert (await r.json())["result"] == "accepted"
    await client.post("/sim/press", json={"keys": "*"})  # and is paid back
    # another buyer is not held back by the first one's pause
    other = await make_account(app, "buyer")
    await _display_shows(client, ["HELLO", "INSERT COINS"])
    assert (await _deposit(client, other)).status == 408
    # after the pause the first buyer may claim again
    while (r := await _deposit(client, buyer)).status == 429:
        assert time.monotonic() - started < COOLDOWN_S + 5
        await asyncio.sleep(0.1)
    assert r.status == 408
    assert time.monotonic() - started >= COOLDOWN_S


@pytest.mark.asyncio
@pytest.mark.machine_config(deposit_claim_cooldown_s=COOLDOWN_S)
async def test_a_claim_cancelled_with_star_makes_its_account_wait(
        client: TestClient[Any, Any], buyer: Account) -> None:
    claim = asyncio.ensure_future(_deposit(client, buyer))
    await _display_shows(client, ["DEPOSIT 0.20", "* CANCELS"])
    await client.post("/sim/press", json={"keys": "*"})
    assert (await claim).status == 409
    await _refused_for_a_while(client, buyer)


@pytest.mark.asyncio
@pytest.mark.machine_config(deposit_claim_cooldown_s=COOLDOWN_S)
async def test_a_claim_that_got_its_coin_leaves_no_pause(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    app[MACHINE_KEY].sim.simulated_machine.claim_walk_s = 0.0
    for expected in (20, 40):
        r = await _deposit(client, buyer)
        assert r.status == 200 and (await r.json())["deposit"] == expected


def test_the_pause_is_a_bounded_config_key(tmp_path: Path) -> None:
    assert config.load(None).machine.deposit_claim_cooldown_s == 30
    path = tmp_path / "machine.toml"
    path.write_text("[machine]\ndeposit_claim_cooldown_s = 5\n")
    loaded = config.load(path)
    assert loaded.machine.deposit_claim_cooldown_s == 5
    assert any("5 s before the account's next one" in line for line in describe(loaded))
    for bad in ("-1", "3601", "\"soon\""):
        path.write_text(f"[machine]\ndeposit_claim_cooldown_s = {bad}\n")
        with pytest.raises(ConfigError, match="deposit_claim_cooldown_s"):
            config.load(path)


def test_the_pause_ends_and_is_per_account() -> None:
    now = [100.0]
    cooldown = ClaimCooldown(30, clock=lambda: now[0])
    cooldown.ended_without_coin(7)
    cooldown.check(8)
    with pytest.raises(Exception, match="wait 30 s") as refused:
        cooldown.check(7)
    assert getattr(refused.value, "retry_after_s", None) == 30
    now[0] += 29.5
    with pytest.raises(Exception, match="wait"):
        cooldown.check(7)
    now[0] += 0.5
    cooldown.check(7)
    ClaimCooldown(0).ended_without_coin(7)  # 0: no pause at all


@pytest.mark.asyncio
@pytest.mark.machine_config(deposit_claim_s=1.0, deposit_claim_cooldown_s=30)
async def test_a_coin_credited_as_the_claim_ends_is_the_claims(
        client: TestClient[Any, Any], buyer: Account, tmp_path: Path) -> None:
    """The coin goes in just before the claim's deadline and its credit is still being
    written when the deadline passes: the buyer is told the deposit (the coin is on the
    account), not that no coin came, and is not made to wait."""
    claim = asyncio.ensure_future(_deposit(client, buyer))
    await _display_shows(client, ["DEPOSIT 0.20", "* CANCELS"])
    # Another writer holds the database, as a slow card would: the coin's credit waits.
    other = sqlite3.connect(tmp_path / "vending.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        coin = asyncio.ensure_future(client.post("/sim/coin", json={"coin": 20}))
        await asyncio.sleep(2.0)  # the claim's 1 s deadline passes while the credit waits
        other.execute("COMMIT")
    finally:
        other.close()
    await coin
    r = await claim
    assert r.status == 200, await r.text()
    assert (await r.json())["deposit"] == 20
    me = await (await client.get("/user", headers=buyer.auth)).json()
    assert me["deposit"] == 20
    assert (await _deposit(client, buyer, 50)).status != 429
