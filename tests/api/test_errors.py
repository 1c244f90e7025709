"""The error contract: one shape, the right status and code, strict input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.validation import MAX_BODY_BYTES
from tests.api.conftest import Account, error_of
from tests.api.fake_machine import FakeMachine

pytestmark = pytest.mark.asyncio


async def test_unknown_route_is_not_found(client: TestClient[Any, Any]) -> None:
    r = await client.get("/nope")
    assert r.status == 404
    assert (await error_of(r))["code"] == "not_found"


async def test_wrong_method_is_405(client: TestClient[Any, Any]) -> None:
    r = await client.patch("/product")
    assert r.status == 405
    assert (await error_of(r))["code"] == "method_not_allowed"
    assert "GET" in r.headers["Allow"]


@pytest.mark.parametrize("path", ["/product/abc", "/product/0", "/product/-1",
                                  "/product/99999999999999999999999", "/product/42"])
async def test_bad_or_unknown_product_id_is_not_found(client: TestClient[Any, Any],
                                                      path: str) -> None:
    r = await client.get(path)
    assert r.status == 404
    assert (await error_of(r))["code"] == "not_found"


async def test_unexpected_exception_is_500_without_details(
        client: TestClient[Any, Any], machine: FakeMachine,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> dict[str, Any]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(machine, "health", boom)
    r = await client.get("/health")
    assert r.status == 500
    text = await r.text()
    assert "secret internals" not in text and "Traceback" not in text
    assert (await error_of(r)) == {"code": "internal_error", "message": "internal error"}
    assert "secret internals" in caplog.text


async def test_other_content_type_is_415(client: TestClient[Any, Any]) -> None:
    r = await client.post("/user", data="username=a", headers={"Content-Type": "text/plain"})
    assert r.status == 415
    assert (await error_of(r))["code"] == "unsupported_media_type"
    r = await client.post("/login", data=b"{}",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415


async def test_json_with_charset_is_accepted(client: TestClient[Any, Any]) -> None:
    r = await client.post("/login", data=json.dumps({"username": "x", "password": "y"}),
                          headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status == 401


async def test_body_over_64_kib_is_413(client: TestClient[Any, Any]) -> None:
    big = json.dumps({"username": "a" * MAX_BODY_BYTES, "password": "x"})
    r = await client.post("/login", data=big, headers={"Content-Type": "application/json"})
    assert r.status == 413
    assert (await error_of(r))["code"] == "payload_too_large"


async def test_chunked_body_over_64_kib_is_413(client: TestClient[Any, Any]) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 4096

    r = await client.post("/login", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status == 413
    assert (await error_of(r))["code"] == "payload_too_large"


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"null", b'{"a": NaN}',
                                 b'{"username": "a", "username": "b", "password": "p"}',
                                 b"\xff\xfe", b"[" * 60_000])
async def test_bad_json_is_a_validation_error(client: TestClient[Any, Any], raw: bytes) -> None:
    r = await client.post("/login", data=raw, headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert (await error_of(r))["code"] == "validation_error"


async def test_unknown_field_is_named(client: TestClient[Any, Any]) -> None:
    r = await client.post("/login", json={"username": "a", "password": "b", "admin": True})
    assert r.status == 400
    error = await error_of(r)
    assert error["code"] == "validation_error"
    assert error["fields"] == {"admin": "unknown field"}


async def test_missing_field_is_named(client: TestClient[Any, Any]) -> None:
    r = await client.post("/login", json={"username": "a"})
    assert r.status == 400
    assert (await error_of(r))["fields"] == {"password": "required"}


async def test_body_on_a_route_without_one_must_be_empty(client: TestClient[Any, Any],
                                                         buyer: Account) -> None:
    r = await client.post("/reset", json={"all": True}, headers=buyer.auth)
    assert r.status == 400
    r = await client.post("/reset", json={}, headers=buyer.auth)
    assert r.status == 200


@pytest.mark.parametrize("coin", ["5", 5.0, True, None, 3, 0, -5, 200, [5], {"v": 5}])
async def test_coin_must_be_a_real_allowed_integer(client: TestClient[Any, Any], buyer: Account,
                                                   coin: Any) -> None:
    r = await client.post("/deposit", json={"coin": coin}, headers=buyer.auth)
    assert r.status == 400, coin
    error = await error_of(r)
    assert error["code"] == "validation_error"
    assert "coin" in error["fields"]


@pytest.mark.parametrize("amount", ["1", 1.0, True, 0, -1])
async def test_buy_amount_must_be_a_positive_integer(client: TestClient[Any, Any],
                                                     buyer: Account, amount: Any) -> None:
    r = await client.post("/buy", json={"productId": 1, "amount": amount}, headers=buyer.auth)
    assert r.status == 400
    assert "amount" in (await error_of(r))["fields"]


@pytest.mark.parametrize(("cost", "field"), [(7, "cost"), (0, "cost"), (-5, "cost"),
                                             ("50", "cost"), (50.0, "cost"), (True, "cost")])
async def test_cost_must_be_a_positive_multiple_of_five(client: TestClient[Any, Any],
                                                        seller: Account, cost: Any,
                                                        field: str) -> None:
    r = await client.post("/product", json={"productName": "Gum", "cost": cost,
                                            "amountAvailable": 1}, headers=seller.auth)
    assert r.status == 400
    assert field in (await error_of(r))["fields"]


@pytest.mark.parametrize("body", [
    {"username": "ab", "password": "plum-tart-77", "role": "buyer"},
    {"username": "a" * 33, "password": "plum-tart-77", "role": "buyer"},
    {"username": "bad name", "password": "plum-tart-77", "role": "buyer"},
    {"username": "émile", "password": "plum-tart-77", "role": "buyer"},
    {"username": "good", "password": "short", "role": "buyer"},
    {"username": "good", "password": "p" * 129, "role": "buyer"},
    {"username": "good", "password": "tab\there1", "role": "buyer"},
    {"username": "good", "password": "plum-tart-77", "role": "operator"},
    {"username": "good", "password": "plum-tart-77", "role": "admin"},
    {"username": 12345, "password": "plum-tart-77", "role": "buyer"},
])
async def test_sign_up_limits(client: TestClient[Any, Any], body: dict[str, Any]) -> None:
    r = await client.post("/user", json=body)
    assert r.status == 400
    error = await error_of(r)
    assert error["code"] == "validation_error" and error["fields"]


@pytest.mark.double_only
@pytest.mark.parametrize(("flag", "path", "body", "status", "code"), [
    ("busy", "/deposit", {"coin": 5}, 409, "machine_busy"),
    ("out_of_service", "/deposit", {"coin": 5}, 503, "out_of_service"),
    ("deposit_times_out", "/deposit", {"coin": 5}, 408, "deposit_timeout"),
    ("busy", "/reset", None, 409, "machine_busy"),
])
async def test_machine_errors_pass_through(client: TestClient[Any, Any], machine: FakeMachine,
                                           buyer: Account, flag: str, path: str,
                                           body: Any, status: int, code: str) -> None:
    setattr(machine, flag, True)
    r = await client.post(path, json=body, headers=buyer.auth)
    assert r.status == status
    assert (await error_of(r))["code"] == code


async def test_sim_routes_are_not_found_on_hardware(tmp_path: Any) -> None:
    machine = FakeMachine(tmp_path, simulated=False)
    await machine.start()
    app: web.Application = create_app(machine)
    try:
        async with TestClient(TestServer(app)) as client:
            health = await client.get("/health")  # the app serves: the 404s below are real
            assert health.status == 200 and (await health.json())["status"] == "ok"
            for method, path in [("POST", "/sim/coin"), ("POST", "/sim/press"),
                                 ("GET", "/sim/state"), ("POST", "/sim/tray/take"),
                                 ("POST", "/sim/fault"), ("GET", "/")]:
                r = await client.request(method, path, json={})
                assert r.status == 404, path
                assert (await error_of(r))["code"] == "not_found"
    finally:
        await machine.close()


async def test_unknown_fault_device_is_a_validation_error(client: TestClient[Any, Any]) -> None:
    r = await client.post("/sim/fault", json={"device": "slot:Z9", "fault": "jam"})
    assert r.status == 400
    error = await error_of(r)
    assert error["code"] == "validation_error"
    assert error["message"] == "no slot 'Z9'" and set(error["fields"]) == {"device"}
    r = await client.post("/sim/fault", json={"device": "acceptor", "fault": "melt"})
    assert set((await error_of(r))["fields"]) == {"fault"}


# --- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), [
    ("/login", '{"username": "sa\\ud800", "password": "password123"}'),
    ("/refresh", '{"refreshToken": "\\ud800"}'),
    ("/user", '{"username": "surro", "password": "pass\\udc00word", "role": "buyer"}'),
])
async def test_lone_surrogates_are_not_text(client: TestClient[Any, Any], path: str,
                                            body: str) -> None:
    r = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert (await error_of(r))["code"] == "validation_error"


async def test_a_body_that_does_not_decode(client: TestClient[Any, Any]) -> None:
    r = await client.post("/login", data=b"certainly not gzip",
                          headers={"Content-Type": "application/json",
                                   "Content-Encoding": "gzip"})
    assert r.status == 400
    assert (await error_of(r))["code"] == "validation_error"


@pytest.mark.parametrize("url", ["/product?foo=1", "/health?x", "/machine/events?limit=1&limit=2"])
async def test_unknown_or_repeated_query_parameters(client: TestClient[Any, Any],
                                                    operator: Account, url: str) -> None:
    r = await client.get(url, headers=operator.auth)
    assert r.status == 400
    assert (await error_of(r))["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/product/%D9%A1", "/product/%EF%BC%91", "/product/01",
                                  "/product/1e3"])
async def test_only_plain_ascii_ids(client: TestClient[Any, Any], seller: Account,
                                    path: str) -> None:
    r = await client.post("/product", json={"productName": "Gum", "cost": 50,
                                            "amountAvailable": 1}, headers=seller.auth)
    assert (await r.json())["id"] == 1
    r = await client.get(path)
    assert r.status == 404
    assert (await error_of(r))["code"] == "not_found"


async def test_head_answers_like_get(client: TestClient[Any, Any]) -> None:
    r = await client.head("/health")
    assert r.status == 200 and await r.read() == b""
