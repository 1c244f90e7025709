"""Reads answered from memory (``controller.store.read_cache``) never outlive a write.

Each test reads first (so the answer is kept), writes, and reads again at
once: the second read must show the write, whoever made it.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routing import MACHINE_KEY
from controller.ops import cli_admin
from controller.store import open_db
from tests.api.conftest import PASSWORD, Account

pytestmark = pytest.mark.asyncio


async def _json(client: TestClient[Any, Any], path: str, auth: Account | None = None) -> Any:
    r = await client.get(path, headers=auth.auth if auth else None)
    assert r.status == 200, await r.text()
    return await r.json()


async def _status(client: TestClient[Any, Any], path: str, auth: Account) -> int:
    return (await client.get(path, headers=auth.auth)).status


async def _product(client: TestClient[Any, Any], seller: Account) -> dict[str, Any]:
    r = await client.post("/product", json={"productName": "Cola", "cost": 65,
                                            "amountAvailable": 5, "slot": "A1"},
                          headers=seller.auth)
    assert r.status == 201, await r.text()
    product: dict[str, Any] = await r.json()
    return product


async def test_a_product_change_is_read_at_once(client: TestClient[Any, Any],
                                                seller: Account) -> None:
    assert await _json(client, "/product") == []
    product = await _product(client, seller)
    for _ in range(2):  # the second answer comes from memory
        assert await _json(client, "/product") == [product]
        assert await _json(client, f"/product/{product['id']}") == product
    r = await client.put(f"/product/{product['id']}", json={"cost": 80}, headers=seller.auth)
    assert r.status == 200
    assert (await _json(client, "/product"))[0]["cost"] == 80
    assert (await _json(client, f"/product/{product['id']}"))["cost"] == 80
    assert (await client.delete(f"/product/{product['id']}", headers=seller.auth)).status == 204
    assert await _json(client, "/product") == []
    assert (await client.get(f"/product/{product['id']}")).status == 404


async def test_a_sale_is_read_at_once(client: TestClient[Any, Any], buyer: Account,
                                      seller: Account) -> None:
    product = await _product(client, seller)
    assert (await _json(client, "/user", buyer))["deposit"] == 0
    assert (await _json(client, "/product"))[0]["amountAvailable"] == 5
    r = await client.post("/deposit", json={"coin": 100}, headers=buyer.auth)
    assert r.status == 200
    assert (await _json(client, "/user", buyer))["deposit"] == 100
    r = await client.post("/buy", json={"productId": product["id"], "amount": 1},
                          headers=buyer.auth)
    assert r.status == 200, await r.text()
    assert (await _json(client, "/user", buyer))["deposit"] == 0
    assert (await _json(client, "/product"))[0]["amountAvailable"] == 4
    assert (await _json(client, f"/product/{product['id']}"))["amountAvailable"] == 4


async def test_a_logout_refuses_the_session_at_once(client: TestClient[Any, Any],
                                                    buyer: Account) -> None:
    for _ in range(2):
        assert await _status(client, "/user", buyer) == 200
    assert (await client.post("/logout", headers=buyer.auth)).status == 204
    assert await _status(client, "/user", buyer) == 401


async def test_a_password_change_ends_the_other_sessions_at_once(
        client: TestClient[Any, Any], buyer: Account) -> None:
    r = await client.post("/login", json={"username": buyer.username,
                                          "password": PASSWORD})
    assert r.status == 200, await r.text()
    other = Account(buyer.id, buyer.username, "buyer", (await r.json())["accessToken"], "")
    assert await _status(client, "/user", other) == 200
    r = await client.put("/user", json={"currentPassword": PASSWORD,
                                        "password": "another horse 10"}, headers=buyer.auth)
    assert r.status == 200, await r.text()
    assert await _status(client, "/user", other) == 401
    assert await _status(client, "/user", buyer) == 200


async def test_a_write_by_another_process_is_read_at_once(
        client: TestClient[Any, Any], app: web.Application, buyer: Account,
        seller: Account) -> None:
    """The CLI remedies write on their own connection, outside the event stream."""
    product = await _product(client, seller)
    assert await _status(client, "/user", buyer) == 200
    assert len(await _json(client, "/product")) == 1
    db = open_db(app[MACHINE_KEY].store.path)
    try:
        cli_admin.remove_product(db, product["id"])
        assert await _json(client, "/product") == []
        assert (await client.get(f"/product/{product['id']}")).status == 404
        cli_admin.remove_user(db, buyer.username, with_products=False)
    finally:
        db.conn.close()
    assert await _status(client, "/user", buyer) == 401
