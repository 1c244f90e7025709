"""``/product``: the catalog rules as the API shows them."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from tests.api.conftest import Account, error_of

pytestmark = pytest.mark.asyncio


async def _create(client: TestClient[Any, Any], seller: Account, **fields: Any) -> Any:
    body = {"productName": "Cola", "cost": 120, "amountAvailable": 5, **fields}
    return await client.post("/product", json=body, headers=seller.auth)


async def test_create_takes_the_first_free_slot(client: TestClient[Any, Any],
                                                seller: Account) -> None:
    r = await _create(client, seller)
    assert r.status == 201
    product = await r.json()
    assert product == {"id": product["id"], "productName": "Cola", "cost": 120,
                       "amountAvailable": 5, "sellerId": seller.id, "slot": "A1",
                       "minLevel": 0}
    second = await (await _create(client, seller, productName="Water")).json()
    assert second["slot"] == "A2"


async def test_named_slot_and_slot_taken(client: TestClient[Any, Any], seller: Account,
                                         other_seller: Account) -> None:
    r = await _create(client, seller, slot="C4")
    assert (await r.json())["slot"] == "C4"
    r = await _create(client, other_seller, slot="C4")
    assert r.status == 409
    assert (await error_of(r))["code"] == "slot_taken"


async def test_unknown_slot_is_a_validation_error(client: TestClient[Any, Any],
                                                  seller: Account) -> None:
    r = await _create(client, seller, slot="Z9")
    assert r.status == 400
    assert set((await error_of(r))["fields"]) == {"slot"}


async def test_no_free_slot(client: TestClient[Any, Any], app: web.Application,
                            seller: Account) -> None:
    codes = app[MACHINE_KEY].config.slots.codes
    await app[MACHINE_KEY].store.tx(lambda db: db.conn.executemany(
        "INSERT INTO products (name, cost, amount_available, seller_id, slot) "
        "VALUES ('Filler', 50, 1, ?, ?)", [(seller.id, code) for code in codes]))
    r = await _create(client, seller)
    assert r.status == 409
    assert (await error_of(r))["code"] == "no_free_slot"


async def test_amount_at_most_the_slot_capacity(client: TestClient[Any, Any],
                                                seller: Account) -> None:
    r = await _create(client, seller, amountAvailable=11)
    assert r.status == 400
    assert "amountAvailable" in (await error_of(r))["fields"]
    assert (await _create(client, seller, amountAvailable=10)).status == 201
    assert (await _create(client, seller, amountAvailable=0)).status == 201
    assert (await _create(client, seller, amountAvailable=-1)).status == 400


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "bad\nname", 5])
async def test_product_name_limits(client: TestClient[Any, Any], seller: Account,
                                   name: Any) -> None:
    r = await _create(client, seller, productName=name)
    assert r.status == 400
    assert "productName" in (await error_of(r))["fields"]


async def test_update_by_owner(client: TestClient[Any, Any], seller: Account) -> None:
    product = await (await _create(client, seller)).json()
    r = await client.put(f"/product/{product['id']}", headers=seller.auth,
                         json={"productName": "Cola Zero", "cost": 125, "amountAvailable": 9,
                               "slot": "D6"})
    assert r.status == 200
    assert await r.json() == {**product, "productName": "Cola Zero", "cost": 125,
                              "amountAvailable": 9, "slot": "D6"}
    r = await client.get(f"/product/{product['id']}")
    assert (await r.json())["slot"] == "D6"


@pytest.mark.double_only
async def test_update_tells_the_machine_about_both_slots(client: TestClient[Any, Any],
                                                         app: web.Application,
                                                         seller: Account) -> None:
    machine: Any = app[MACHINE_KEY]
    product = await (await _create(client, seller)).json()
    await client.put(f"/product/{product['id']}", json={"slot": "B1"}, headers=seller.auth)
    await client.delete(f"/product/{product['id']}", headers=seller.auth)
    slots = [(p["productName"] if p else None, s) for p, s in machine.stock_calls]
    assert slots == [("Cola", "A1"), (None, "A1"), ("Cola", "B1"), (None, "B1")]


async def test_update_checks_rules(client: TestClient[Any, Any], seller: Account) -> None:
    first = await (await _create(client, seller)).json()
    await _create(client, seller)
    url = f"/product/{first['id']}"
    r = await client.put(url, json={"slot": "A2"}, headers=seller.auth)
    assert (r.status, (await error_of(r))["code"]) == (409, "slot_taken")
    r = await client.put(url, json={}, headers=seller.auth)
    assert r.status == 400
    r = await client.put(url, json={"cost": 3}, headers=seller.auth)
    assert r.status == 400
    r = await client.put(url, json={"sellerId": 99}, headers=seller.auth)
    assert (await error_of(r))["fields"] == {"sellerId": "unknown field"}
    r = await client.put(url, json={"amountAvailable": 11}, headers=seller.auth)
    assert r.status == 400


async def test_other_seller_may_not_change_or_delete(client: TestClient[Any, Any],
                                                     seller: Account,
                                                     other_seller: Account) -> None:
    product = await (await _create(client, seller)).json()
    url = f"/product/{product['id']}"
    r = await client.put(url, json={"cost": 5}, headers=other_seller.auth)
    assert (r.status, (await error_of(r))["code"]) == (403, "forbidden")
    r = await client.delete(url, headers=other_seller.auth)
    assert r.status == 403
    assert (await client.get(url)).status == 200


async def test_delete_and_not_found(client: TestClient[Any, Any], seller: Account) -> None:
    product = await (await _create(client, seller)).json()
    url = f"/product/{product['id']}"
    assert (await client.delete(url, headers=seller.auth)).status == 204
    assert (await client.get(url)).status == 404
    r = await client.delete(url, headers=seller.auth)
    assert (r.status, (await error_of(r))["code"]) == (404, "not_found")
    r = await client.put(url, json={"cost": 5}, headers=seller.auth)
    assert r.status == 404


async def test_list_in_slot_order(client: TestClient[Any, Any], seller: Account) -> None:
    await _create(client, seller, slot="B1", productName="Later")
    await _create(client, seller, slot="A3", productName="Earlier")
    r = await client.get("/product")
    assert [p["productName"] for p in await r.json()] == ["Earlier", "Later"]


async def test_ids_of_deleted_products_and_users_are_not_given_again(
        client: TestClient[Any, Any], seller: Account) -> None:
    first = await (await _create(client, seller)).json()
    assert (await client.delete(f"/product/{first['id']}", headers=seller.auth)).status == 204
    second = await (await _create(client, seller)).json()
    assert second["id"] > first["id"]
    body = {"username": "short_lived", "password": "a long password", "role": "buyer"}
    user = await (await client.post("/user", json=body)).json()
    login = await (await client.post("/login", json={"username": "short_lived",
                                                     "password": "a long password"})).json()
    auth = {"Authorization": f"Bearer {login['accessToken']}"}
    assert (await client.delete("/user", json={"password": "a long password"},
                               headers=auth)).status == 204
    again = await (await client.post("/user", json={**body, "username": "next_one"})).json()
    assert again["id"] > user["id"]
