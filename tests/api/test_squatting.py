"""One seller against every slot: the per-seller limit, operators' rights, closed sign-up."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from controller.config import ApiConfig, Config
from tests.api.conftest import Account, error_of
from tests.api.fake_machine import FakeMachine

pytestmark = pytest.mark.asyncio


async def _create(client: TestClient[Any, Any], seller: Account, name: str = "Rocks") -> Any:
    return await client.post("/product", json={"productName": name, "cost": 995,
                                               "amountAvailable": 1}, headers=seller.auth)


async def test_a_seller_holds_at_most_the_configured_slots(
        client: TestClient[Any, Any], seller: Account, other_seller: Account) -> None:
    limit = ApiConfig().max_slots_per_seller
    for _ in range(limit):
        assert (await _create(client, seller)).status == 201
    r = await _create(client, seller)
    assert r.status == 409
    error = await error_of(r)
    assert error["code"] == "no_free_slot" and str(limit) in error["message"]
    assert (await _create(client, other_seller, "Gum")).status == 201


async def test_an_operator_edits_and_removes_a_squatters_product(
        client: TestClient[Any, Any], seller: Account, operator: Account,
        other_seller: Account) -> None:
    product = await (await _create(client, seller)).json()
    r = await client.put(f"/product/{product['id']}", json={"cost": 50, "amountAvailable": 0},
                         headers=operator.auth)
    assert r.status == 200
    assert (await r.json())["cost"] == 50 and (await r.json())["sellerId"] == seller.id
    r = await client.put(f"/product/{product['id']}", json={"cost": 5},
                         headers=other_seller.auth)
    assert r.status == 403
    r = await client.delete(f"/product/{product['id']}", headers=operator.auth)
    assert r.status == 204
    assert (await client.get(f"/product/{product['id']}")).status == 404
    # operators still do not sell
    r = await client.post("/product", json={"productName": "Op", "cost": 50,
                                            "amountAvailable": 1}, headers=operator.auth)
    assert r.status == 403


async def _client_with(tmp_path: Path, api: ApiConfig) -> tuple[TestClient[Any, Any],
                                                                 FakeMachine]:
    machine = FakeMachine(tmp_path, config=replace(Config(), api=api))
    await machine.start()
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(machine)))
    await client.start_server()
    return client, machine


@pytest.mark.double_only
async def test_signup_roles_decide_what_post_user_creates(tmp_path: Path) -> None:
    client, machine = await _client_with(tmp_path, replace(ApiConfig(),
                                                           signup_roles=("buyer",)))
    try:
        r = await client.post("/user", json={"username": "sam", "password": "seller-pass",
                                             "role": "seller"})
        assert r.status == 400 and (await error_of(r))["fields"]["role"]
        r = await client.post("/user", json={"username": "bob", "password": "buyer-pass-1",
                                             "role": "buyer"})
        assert r.status == 201
        document = await (await client.get("/openapi.json")).json()
        body = document["paths"]["/user"]["post"]["requestBody"]["content"]
        assert body["application/json"]["schema"]["properties"]["role"]["enum"] == ["buyer"]
    finally:
        await client.close()
        await machine.close()


@pytest.mark.double_only
async def test_no_signup_roles_close_sign_up(tmp_path: Path) -> None:
    client, machine = await _client_with(tmp_path, replace(ApiConfig(), signup_roles=()))
    try:
        r = await client.post("/user", json={"username": "bob", "password": "buyer-pass-1",
                                             "role": "buyer"})
        assert r.status == 403 and (await error_of(r))["code"] == "forbidden"
    finally:
        await client.close()
        await machine.close()


@pytest.mark.parametrize("password", ["password1", "Password1", "qwerty123", "iloveyou",
                                      "letmein1", "12345678", "bob-the-name"])
async def test_common_passwords_and_the_name_are_refused(client: TestClient[Any, Any],
                                                         password: str) -> None:
    r = await client.post("/user", json={"username": "bob-the-name", "password": password,
                                         "role": "buyer"})
    assert r.status == 400
    assert (await error_of(r))["fields"]["password"]
