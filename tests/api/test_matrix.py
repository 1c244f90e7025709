"""Who may call what: every route against every kind of caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.app import all_routes
from api.routes_pages import STATIC_FILES
from api.routing import MACHINE_KEY
from controller.catalog import rules as catalog
from tests.api.conftest import PASSWORD, Account, make_account

pytestmark = pytest.mark.asyncio

ROLES = ("anonymous", "buyer", "other_seller", "operator", "seller")
"""The owning seller comes last: its DELETE /product would change what others see."""

Body = Callable[[str], Any] | Any
USERS = {"buyer", "seller", "other_seller", "operator"}


def only(allowed: dict[str, int]) -> dict[str, int]:
    """Anonymous gets 401, other roles 403, the listed roles their status."""
    return {role: allowed.get(role, 401 if role == "anonymous" else 403) for role in ROLES}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


CASES: list[tuple[str, str, Body, dict[str, int]]] = [
    ("POST", "/user", lambda role: {"username": f"new_{role}", "password": "plum-tart-77",
                                    "role": "buyer"}, everyone(201)),
    ("GET", "/user", None, only(dict.fromkeys(USERS, 200))),
    ("PUT", "/user", {"currentPassword": PASSWORD, "password": "another password"},
     only(dict.fromkeys(USERS, 200))),
    ("DELETE", "/user", {"password": PASSWORD},
     only({"buyer": 204, "other_seller": 204, "operator": 204, "seller": 409})),
    ("POST", "/login", {"username": "nobody", "password": "whatever1"}, everyone(401)),
    ("POST", "/refresh", {"refreshToken": "not-a-token"}, everyone(401)),
    ("POST", "/logout", None, only(dict.fromkeys(USERS, 204))),
    ("POST", "/logout/all", None, only(dict.fromkeys(USERS, 200))),
    ("GET", "/product", None, everyone(200)),
    ("GET", "/product/{pid}", None, everyone(200)),
    ("POST", "/product", {"productName": "Gum", "cost": 50, "amountAvailable": 1},
     only({"seller": 201, "other_seller": 201})),
    ("PUT", "/product/{pid}", {"cost": 65}, only({"seller": 200, "operator": 200})),
    # the operator removes the product first: its seller then finds it gone
    ("DELETE", "/product/{pid}", None, only({"operator": 204, "seller": 404})),
    ("POST", "/deposit", {"coin": 20}, only({"buyer": 200})),
    ("POST", "/buy", {"productId": "{pid}", "amount": 1}, only({"buyer": 409})),
    ("POST", "/reset", None, only({"buyer": 200})),
    ("GET", "/machine", None, only({"operator": 200})),
    ("PUT", "/machine/coins/50", {"payout": 25}, only({"operator": 200})),
    ("POST", "/machine/cashbox/collect", None, only({"operator": 200})),
    ("POST", "/machine/service", {"enabled": False}, only({"operator": 200})),
    ("GET", "/machine/events", None, only({"operator": 200})),
    ("GET", "/machine/audit", None, only({"operator": 200})),
    ("GET", "/machine/sales", None, only({"operator": 200})),
    ("GET", "/machine/picklist", None, only({"operator": 200})),
    ("GET", "/health", None, everyone(200)),
    ("GET", "/openapi.json", None, everyone(200)),
    ("GET", "/metrics", None, only({"operator": 200})),
    ("POST", "/sim/coin", {"coin": 10}, everyone(200)),
    ("POST", "/sim/bill", {"bill": 500}, everyone(404)),  # the built-in machine has none
    ("POST", "/sim/card", {"funds": 500}, everyone(404)),  # ... and no card reader
    ("POST", "/sim/press", {"keys": "*"}, everyone(200)),
    ("GET", "/sim/state", None, everyone(200)),
    ("POST", "/sim/tray/take", {}, everyone(200)),
    ("POST", "/sim/fault", {"device": "acceptor", "fault": "clear"}, everyone(200)),
    ("GET", "/", None, everyone(200)),
    ("GET", "/console", None, everyone(200)),
    *(("GET", f.path, None, everyone(200)) for f in STATIC_FILES),
]


async def test_the_matrix_covers_every_route() -> None:
    table = {(method, path.replace("{pid}", "{id}").replace("/50", "/{coin}"))
             for method, path, _, _ in CASES}
    assert table == {(r.method, r.path) for r in all_routes()}


def _fill(body: Body, role: str, pid: int) -> Any:
    value = body(role) if callable(body) else body
    if isinstance(value, dict):
        return {k: pid if v == "{pid}" else v for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body", "expected"), CASES,
                         ids=[f"{m} {p}" for m, p, _, _ in CASES])
async def test_route_by_role(client: TestClient[Any, Any], app: web.Application, method: str,
                             path: str, body: Body, expected: dict[str, int]) -> None:
    callers: dict[str, Account | None] = {"anonymous": None}
    for role in ROLES[1:]:
        callers[role] = await make_account(app, "seller" if "seller" in role else role)
    owner = callers["seller"]
    assert owner is not None
    product = await app[MACHINE_KEY].store.tx(lambda db: catalog.create_product(
        db, {"id": owner.id, "role": "seller"},
        {"productName": "Cola", "cost": 120, "amountAvailable": 5, "slot": "B2"}))
    url = path.replace("{pid}", str(product["id"]))
    seen = {}
    for role in ROLES:
        caller = callers[role]
        r = await client.request(method, url, json=_fill(body, role, product["id"]),
                                 headers=caller.auth if caller else {})
        seen[role] = r.status
    assert seen == expected
