"""Low-grade abuse of accounts: session build-up, a sign-up oracle, parallel guesses, names.

Each test sends what an attacker on the LAN sent; the figures of DESIGN.md
"Fair use of the LAN API" are the limits.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import AUTH_KEY
from controller.accounts.rules import MAX_SESSIONS_PER_ACCOUNT
from controller.app import machine_lock
from tests.api.addresses import neighbour
from tests.api.conftest import PASSWORD, Account, error_of

ATTACKER, THIRD = "127.0.0.2", "127.0.0.4"
pytestmark = pytest.mark.timeout(90)


@pytest.mark.asyncio
async def test_an_account_holds_at_most_20_sessions(client: TestClient[Any, Any],
                                                    buyer: Account) -> None:
    assert MAX_SESSIONS_PER_ACCOUNT == 20
    logins = []
    for _ in range(MAX_SESSIONS_PER_ACCOUNT + 5):
        r = await client.post("/login", json={"username": buyer.username, "password": PASSWORD})
        assert r.status == 200
        logins.append(await r.json())
    assert logins[-1]["activeSessions"] == MAX_SESSIONS_PER_ACCOUNT - 1
    alive = []
    for answer in [{"accessToken": buyer.access}, *logins]:
        r = await client.get("/user", headers={"Authorization": f"Bearer {answer['accessToken']}"})
        alive.append(r.status)
    # the oldest six (the fixture's own session and the first five logins) ended
    assert alive == [401] * 6 + [200] * MAX_SESSIONS_PER_ACCOUNT
    r = await client.post("/refresh", json={"refreshToken": logins[0]["refreshToken"]})
    assert r.status == 401


@pytest.mark.asyncio
async def test_past_the_sign_up_limit_a_taken_name_looks_like_a_free_one(
        client: TestClient[Any, Any], app: web.Application, seller: Account) -> None:
    app[AUTH_KEY].signups.limit = 2
    async with neighbour(client, ATTACKER) as attacker:
        taken = {"username": seller.username, "password": "probe-pass-1", "role": "buyer"}
        status, _, _ = await attacker.call("POST", "/user", taken)
        assert status == 409  # under the limit sign-up says so, as it must
        status, _, _ = await attacker.call("POST", "/user", {
            "username": "fresh1", "password": "probe-pass-1", "role": "buyer"})
        assert status == 201
        answers = [await attacker.call("POST", "/user", body) for body in (
            taken, {"username": "nobody-has-this", "password": "probe-pass-1",
                    "role": "buyer"})]
    assert [a[0] for a in answers] == [429, 429]
    assert answers[0][2] == answers[1][2]  # the same answer: nothing told apart
    assert all("Retry-After" in headers for _, headers, _ in answers)


@pytest.mark.asyncio
async def test_60_parallel_wrong_passwords_get_exactly_the_limit_checked(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    throttle = app[AUTH_KEY].throttle
    throttle.refusal_delay_s = 0.01  # the refusals' own delay is not what is tested
    assert throttle.per_account_address == 10
    async with neighbour(client, ATTACKER) as attacker:
        answers = await asyncio.gather(
            *(attacker.login(buyer.username, f"guess-{n}") for n in range(60)))
    statuses = [status for status, _, _ in answers]
    assert (statuses.count(401), statuses.count(429)) == (10, 50)
    # the owner, elsewhere, is not held back
    async with neighbour(client, THIRD) as owner:
        assert (await owner.login(buyer.username, PASSWORD))[0] == 200


@pytest.mark.asyncio
async def test_parallel_correct_logins_are_not_refused_near_the_limit(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    async with neighbour(client, ATTACKER) as host:
        for n in range(9):  # typos up to one below the limit
            assert (await host.login(buyer.username, f"typo-{n}"))[0] == 401
        answers = await asyncio.gather(*(host.login(buyer.username, PASSWORD)
                                         for _ in range(8)))
    assert [status for status, _, _ in answers] == [200] * 8


NOT_PRINTABLE = ["\u202e", "\u200b", "\ufeff", "\x1b[31m", "\n", "\u2066", "\u00ad"]


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", NOT_PRINTABLE)
async def test_names_with_control_or_format_characters_are_refused(
        client: TestClient[Any, Any], seller: Account, bad: str) -> None:
    r = await client.post("/user", json={"username": f"eve{bad}lyn", "password": "long-pass-42",
                                         "role": "buyer"})
    assert r.status == 400 and (await error_of(r))["code"] == "validation_error"
    r = await client.post("/product", json={"productName": f"Cola{bad}Light", "cost": 50,
                                            "amountAvailable": 1}, headers=seller.auth)
    assert r.status == 400 and (await error_of(r))["code"] == "validation_error"
    r = await client.post("/product", json={"productName": "Cola Light", "cost": 50,
                                            "amountAvailable": 1}, headers=seller.auth)
    assert r.status == 201
    r = await client.put(f"/product/{(await r.json())['id']}",
                         json={"productName": f"{bad}Gum"}, headers=seller.auth)
    assert r.status == 400 and (await error_of(r))["code"] == "validation_error"


@pytest.mark.asyncio
async def test_printable_unicode_names_are_fine(client: TestClient[Any, Any],
                                                seller: Account) -> None:
    r = await client.post("/product", json={"productName": "Café Ölmühle 日本", "cost": 50,
                                            "amountAvailable": 1}, headers=seller.auth)
    assert r.status == 201


def test_the_lock_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "vending.db"
    lock = tmp_path / "vending.db.lock"
    lock.write_text("1\n")
    os.chmod(lock, 0o644)  # left by an older version
    old = os.umask(0)
    try:
        with machine_lock(db):
            assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
        lock.unlink()
        with machine_lock(db):
            assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
    finally:
        os.umask(old)
