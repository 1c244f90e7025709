"""``/user``: sign up, read, change password, delete."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from controller.accounts import rules as accounts
from tests.api.conftest import PASSWORD, Account, error_of, make_account

pytestmark = pytest.mark.asyncio


async def test_sign_up_answers_the_user_without_secrets(client: TestClient[Any, Any]) -> None:
    r = await client.post("/user", json={"username": "Carol.B-1_x", "password": "pass word 1",
                                         "role": "seller"})
    assert r.status == 201
    user = await r.json()
    assert set(user) == {"id", "username", "role", "deposit"}
    assert user["username"] == "Carol.B-1_x" and user["role"] == "seller"
    assert user["deposit"] == 0


async def test_username_is_unique_ignoring_case(client: TestClient[Any, Any],
                                                buyer: Account) -> None:
    r = await client.post("/user", json={"username": buyer.username.upper(),
                                         "password": "plum-tart-77", "role": "buyer"})
    assert r.status == 409
    assert (await error_of(r))["code"] == "username_taken"


async def test_get_user_is_the_caller(client: TestClient[Any, Any], buyer: Account) -> None:
    r = await client.get("/user", headers=buyer.auth)
    assert await r.json() == {"id": buyer.id, "username": buyer.username, "role": "buyer",
                              "deposit": 0}


async def test_put_user_changes_only_the_password(client: TestClient[Any, Any],
                                                  buyer: Account) -> None:
    r = await client.put("/user", json={"currentPassword": PASSWORD, "password": "new password",
                                        "role": "seller"},
                         headers=buyer.auth)
    assert r.status == 400
    assert (await error_of(r))["fields"] == {"role": "unknown field"}
    r = await client.put("/user", json={"username": "renamed"}, headers=buyer.auth)
    assert r.status == 400


async def test_delete_refused_with_a_deposit(client: TestClient[Any, Any],
                                             buyer: Account) -> None:
    assert (await client.post("/deposit", json={"coin": 10}, headers=buyer.auth)).status == 200
    r = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    assert r.status == 409
    assert (await error_of(r))["code"] == "deposit_not_empty"
    await client.post("/reset", headers=buyer.auth)
    r = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    assert r.status == 204


async def test_delete_refused_with_products(client: TestClient[Any, Any],
                                            seller: Account) -> None:
    r = await client.post("/product", json={"productName": "Gum", "cost": 50,
                                            "amountAvailable": 1}, headers=seller.auth)
    product = await r.json()
    r = await client.delete("/user", json={"password": PASSWORD}, headers=seller.auth)
    assert r.status == 409
    assert (await error_of(r))["code"] == "has_products"
    await client.delete(f"/product/{product['id']}", headers=seller.auth)
    r = await client.delete("/user", json={"password": PASSWORD}, headers=seller.auth)
    assert r.status == 204


async def test_operators_only_through_the_cli(client: TestClient[Any, Any],
                                              app: web.Application) -> None:
    store = app[MACHINE_KEY].store
    user = await store.run(
        lambda db: accounts.create_user_cli(db, "root_op", "operator", "operator pw"))
    assert user["role"] == "operator"
    r = await client.post("/login", json={"username": "root_op", "password": "operator pw"})
    assert r.status == 200
    r = await client.post("/user", json={"username": "op2", "password": "plum-tart-77",
                                         "role": "operator"})
    assert r.status == 400


# --- re-authentication ------------------------------------------------------------------


async def test_a_password_change_needs_the_current_password(client: TestClient[Any, Any],
                                                            app: web.Application,
                                                            buyer: Account) -> None:
    r = await client.put("/user", json={"password": "a fresh password"}, headers=buyer.auth)
    assert r.status == 400
    assert (await error_of(r))["fields"] == {"currentPassword": "required"}
    r = await client.put("/user", json={"currentPassword": "not the password",
                                        "password": "a fresh password"}, headers=buyer.auth)
    assert r.status == 403 and (await error_of(r))["code"] == "forbidden"
    builder = await make_account(app, "seller", "bob_the_builder")
    r = await client.put("/user", json={"currentPassword": PASSWORD,
                                        "password": "BOB_THE_BUILDER"}, headers=builder.auth)
    assert r.status == 400
    assert (await error_of(r))["fields"] == {"password": "same as the username"}
    for name in (buyer.username, builder.username):
        r = await client.post("/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200  # nothing changed


async def test_deleting_the_account_needs_the_password(client: TestClient[Any, Any],
                                                       buyer: Account) -> None:
    r = await client.delete("/user", headers=buyer.auth)
    assert r.status == 400
    assert (await error_of(r))["fields"] == {"password": "required"}
    r = await client.delete("/user", json={"password": "not the password"},
                            headers=buyer.auth)
    assert r.status == 403 and (await error_of(r))["code"] == "forbidden"
    assert (await client.get("/user", headers=buyer.auth)).status == 200
    r = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    assert r.status == 204
