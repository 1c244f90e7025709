"""Password guessing from a hostile neighbour: slowed down, never a lockout of others."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import AUTH_KEY
from api.throttle import LoginThrottle, RateLimit, Throttled, client_key
from tests.api.addresses import neighbour
from tests.api.conftest import PASSWORD, Account, make_account

ATTACKER, OPERATOR_DESK, THIRD = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _retry_after(headers: dict[str, str]) -> int:
    value = int(headers["Retry-After"])
    assert 1 <= value <= 3600
    return value


@pytest.mark.asyncio
async def test_guessing_the_operators_password_does_not_keep_her_out(
        client: TestClient[Any, Any], operator: Account) -> None:
    async with neighbour(client, ATTACKER) as attacker, \
            neighbour(client, OPERATOR_DESK) as desk:
        for _ in range(10):
            status, _, _ = await attacker.login(operator.username, "not-her-password")
            assert status == 401
        started = time.monotonic()
        status, headers, body = await attacker.login(operator.username, "still-guessing")
        assert status == 429 and body["error"]["code"] == "too_many_attempts"
        _retry_after(headers)
        # the refusal itself is slow: a few guesses a second, not hundreds
        assert time.monotonic() - started >= 0.4
        # from her desk the right password logs in at once, again and again
        for _ in range(3):
            started = time.monotonic()
            status, _, _ = await desk.login(operator.username, PASSWORD)
            assert status == 200
            assert time.monotonic() - started < 2.0
        # the attacker keeps being refused, the right password included
        status, headers, _ = await attacker.login(operator.username, PASSWORD)
        assert status == 429
        _retry_after(headers)


@pytest.mark.asyncio
async def test_a_few_typos_do_not_slow_down_their_own_address(
        client: TestClient[Any, Any], buyer: Account) -> None:
    async with neighbour(client, THIRD) as host:
        for _ in range(9):
            assert (await host.login(buyer.username, "typo-typo"))[0] == 401
        assert (await host.login(buyer.username, PASSWORD))[0] == 200
        # the success forgave the typos of that account at that address
        for _ in range(9):
            assert (await host.login(buyer.username, "typo-again"))[0] == 401
        assert (await host.login(buyer.username, PASSWORD))[0] == 200


@pytest.mark.asyncio
async def test_spraying_many_accounts_slows_down_that_address_only(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    app[AUTH_KEY].throttle.per_address = 5
    async with neighbour(client, ATTACKER) as attacker, neighbour(client, THIRD) as other:
        for n in range(5):
            assert (await attacker.login(f"victim{n}", "summer-guess"))[0] == 401
        status, headers, _ = await attacker.login(buyer.username, PASSWORD)
        assert status == 429
        _retry_after(headers)
        assert (await other.login(buyer.username, PASSWORD))[0] == 200


@pytest.mark.asyncio
async def test_parallel_guesses_cannot_slip_past_the_count(
        client: TestClient[Any, Any], app: web.Application, buyer: Account) -> None:
    app[AUTH_KEY].throttle.per_account_address = 5
    app[AUTH_KEY].throttle.refusal_delay_s = 0.01
    async with neighbour(client, ATTACKER) as attacker:
        answers = await _parallel(
            [attacker.login(buyer.username, f"guess-{n}") for n in range(40)])
    statuses = [status for status, _, _ in answers]
    assert (statuses.count(401), statuses.count(429)) == (5, 35)  # exactly the limit
    assert all("Retry-After" in headers for status, headers, _ in answers if status == 429)


async def _parallel(calls: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*calls))


@pytest.mark.asyncio
@pytest.mark.timeout(90)
async def test_150_parallel_correct_logins_all_succeed(
        client: TestClient[Any, Any], buyer: Account) -> None:
    async with neighbour(client, THIRD, limit=150) as host:
        started = time.monotonic()
        answers = await _parallel([host.login(buyer.username, PASSWORD) for _ in range(150)])
        elapsed_s = time.monotonic() - started
    assert [status for status, _, _ in answers] == [200] * 150, elapsed_s
    assert answers[-1][2]["activeSessions"] >= 1


@pytest.mark.asyncio
async def test_a_stolen_token_is_no_guessing_oracle(client: TestClient[Any, Any],
                                                   app: web.Application) -> None:
    victim = await make_account(app, "seller")
    app[AUTH_KEY].throttle.per_account_address = 3
    async with neighbour(client, ATTACKER) as attacker, neighbour(client, THIRD) as owner:
        for n in range(3):
            status, _, body = await attacker.call(
                "PUT", "/user", {"currentPassword": f"guess-{n}", "password": "mine-now-1234"},
                victim.auth)
            assert status == 403 and body["error"]["code"] == "forbidden"
        status, headers, _ = await attacker.call(
            "DELETE", "/user", {"password": PASSWORD}, victim.auth)
        assert status == 429
        _retry_after(headers)
        # the owner, elsewhere, still has her account and her password
        assert (await owner.login(victim.username, PASSWORD))[0] == 200


@pytest.mark.asyncio
async def test_sign_ups_are_limited_per_address(client: TestClient[Any, Any],
                                                app: web.Application) -> None:
    app[AUTH_KEY].signups.limit = 3
    async with neighbour(client, ATTACKER) as attacker, neighbour(client, THIRD) as other:
        for n in range(3):
            status, _, _ = await attacker.call("POST", "/user", {
                "username": f"squat{n}", "password": "squatter-pass", "role": "seller"})
            assert status == 201
        status, headers, body = await attacker.call("POST", "/user", {
            "username": "squat9", "password": "squatter-pass", "role": "seller"})
        assert status == 429 and body["error"]["code"] == "too_many_attempts"
        assert _retry_after(headers) > 60
        status, _, _ = await other.call("POST", "/user", {
            "username": "honest", "password": "honest-pass-1", "role": "buyer"})
        assert status == 201


# --- the parts on their own ----------------------------------------------------------------


def test_failures_leave_the_window() -> None:
    throttle = LoginThrottle(per_account_address=2, per_address=100)
    throttle.failed("ann", "10.0.0.9", now=0.0)
    throttle.failed("ann", "10.0.0.9", now=30.0)
    with pytest.raises(Throttled) as refused:
        throttle.check("ANN", "10.0.0.9", now=59.0)
    assert refused.value.retry_after_s == 1
    throttle.check("ann", "10.0.0.10", now=59.0)  # another address: untouched
    throttle.check("ann", "10.0.0.9", now=60.5)  # the first failure has left the window


def test_rate_limit_says_when_to_come_back() -> None:
    limit = RateLimit(2, 3600.0, "sign-ups")
    limit.take("a", now=0.0)
    limit.take("a", now=100.0)
    with pytest.raises(Throttled) as refused:
        limit.take("a", now=200.0)
    assert refused.value.retry_after_s == 3400
    limit.take("a", now=3600.5)


@pytest.mark.parametrize(("remote", "key"), [
    ("127.0.0.2", "127.0.0.2"),
    ("::ffff:192.168.1.7", "192.168.1.7"),
    ("fe80::1234:5678:9abc:def0%eth0", "fe80::/64"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::99", "2001:db8:1:2::/64"),
    (None, "unknown"),
])
def test_an_ipv6_host_is_counted_by_its_prefix(remote: str | None, key: str) -> None:
    assert client_key(remote) == key
