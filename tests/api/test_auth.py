"""Tokens, sessions, rotation, reuse detection, throttling and the secret file."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.auth import ACTIVE_SESSION_MESSAGE, SECRET_FILE, load_secret
from tests.api.conftest import PASSWORD, Account, error_of, make_account

pytestmark = pytest.mark.asyncio


@pytest.fixture
def secret(client: TestClient[Any, Any], tmp_path: Path) -> str:
    """The signing secret, as the started app keeps it in its state directory."""
    return load_secret(None, tmp_path)


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def _status_with(client: TestClient[Any, Any], token: str) -> tuple[int, str]:
    r = await client.get("/user", headers={"Authorization": f"Bearer {token}"})
    code = (await error_of(r))["code"] if r.status != 200 else ""
    return r.status, code


async def _login(client: TestClient[Any, Any], username: str,
                 password: str = PASSWORD) -> Any:
    return await client.post("/login", json={"username": username, "password": password})


# --- bad tokens -------------------------------------------------------------------


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic abc", "Token x.y.z",
                                    "Bearer not.a.jwt"])
async def test_missing_or_malformed_header(client: TestClient[Any, Any], header: str) -> None:
    r = await client.get("/user", headers={"Authorization": header} if header else {})
    assert r.status == 401
    assert (await error_of(r))["code"] == "unauthorized"


async def test_tampered_token(client: TestClient[Any, Any], buyer: Account,
                              seller: Account) -> None:
    head, payload, sig = buyer.access.split(".")
    claims = _claims(buyer.access) | {"sub": str(seller.id)}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert await _status_with(client, f"{head}.{forged}.{sig}") == (401, "unauthorized")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert (await _status_with(client, f"{head}.{payload}.{flipped}"))[0] == 401


async def test_token_signed_with_another_key(client: TestClient[Any, Any],
                                             buyer: Account) -> None:
    token = jwt.encode(_claims(buyer.access), "another key " * 4, algorithm="HS256")
    assert await _status_with(client, token) == (401, "unauthorized")


async def test_alg_none_is_refused(client: TestClient[Any, Any], buyer: Account) -> None:
    token = jwt.encode(_claims(buyer.access), None, algorithm="none")
    assert await _status_with(client, token) == (401, "unauthorized")


async def test_other_hmac_algorithm_is_refused(client: TestClient[Any, Any], secret: str,
                                               buyer: Account) -> None:
    token = jwt.encode(_claims(buyer.access), secret, algorithm="HS512")
    assert await _status_with(client, token) == (401, "unauthorized")


@pytest.mark.parametrize("change", [{"sub": "\u00b2"}, {"sub": "\u0662"}, {"sub": "01"},
                                    {"exp": "9999999999"}, {"iat": 1.5}])
async def test_claims_of_the_wrong_form_with_the_right_key(client: TestClient[Any, Any],
                                                           secret: str,
                                                           buyer: Account,
                                                           change: dict[str, Any]) -> None:
    token = jwt.encode(_claims(buyer.access) | change, secret, algorithm="HS256")
    assert await _status_with(client, token) == (401, "unauthorized")


async def test_header_bytes_that_are_not_utf8(client: TestClient[Any, Any]) -> None:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"GET /user HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \xff\xfe.a.b\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'"unauthorized"' in answer


async def test_expired_token(client: TestClient[Any, Any], secret: str,
                             buyer: Account) -> None:
    past = int(time.time()) - 3600
    token = jwt.encode(_claims(buyer.access) | {"iat": past - 900, "exp": past}, secret,
                       algorithm="HS256")
    r = await client.get("/user", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401
    assert "expired" in (await error_of(r))["message"]


@pytest.mark.parametrize("drop", ["exp", "iat", "sub", "sid", "typ"])
async def test_every_claim_is_required(client: TestClient[Any, Any], secret: str,
                                       buyer: Account, drop: str) -> None:
    claims = _claims(buyer.access)
    del claims[drop]
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert await _status_with(client, token) == (401, "unauthorized")


async def test_refresh_token_is_not_an_access_token(client: TestClient[Any, Any],
                                                    buyer: Account) -> None:
    assert await _status_with(client, buyer.refresh) == (401, "unauthorized")
    r = await client.post("/refresh", json={"refreshToken": buyer.access})
    assert r.status == 401


async def test_token_of_a_deleted_user(client: TestClient[Any, Any], buyer: Account) -> None:
    r = await client.delete("/user", json={"password": PASSWORD}, headers=buyer.auth)
    assert r.status == 204
    assert await _status_with(client, buyer.access) == (401, "unauthorized")


# --- login and sessions -------------------------------------------------------------


async def test_login_answer_and_active_session_message(client: TestClient[Any, Any],
                                                       app: web.Application) -> None:
    account = await make_account(app, "buyer", "Alice")
    r = await _login(client, "alice")  # names ignore case
    assert r.status == 200
    body = await r.json()
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 900
    assert body["activeSessions"] == 1
    assert body["message"] == ACTIVE_SESSION_MESSAGE
    claims = _claims(body["accessToken"])
    assert claims["sub"] == str(account.id) and claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 900
    refresh = _claims(body["refreshToken"])
    assert refresh["typ"] == "refresh" and refresh["jti"] and refresh["sid"] == claims["sid"]
    assert refresh["exp"] - refresh["iat"] == pytest.approx(7 * 24 * 3600, abs=2)
    assert await _status_with(client, body["accessToken"]) == (200, "")


async def test_first_login_has_no_message(client: TestClient[Any, Any]) -> None:
    r = await client.post("/user", json={"username": "bob", "password": "plum-tart-77",
                                         "role": "seller"})
    assert r.status == 201
    r = await _login(client, "bob", "plum-tart-77")
    body = await r.json()
    assert body["activeSessions"] == 0 and "message" not in body


async def test_wrong_password_and_unknown_user_look_alike(client: TestClient[Any, Any],
                                                          buyer: Account) -> None:
    wrong = await _login(client, buyer.username, "wrong password")
    unknown = await _login(client, "nobody_here", "wrong password")
    assert wrong.status == unknown.status == 401
    assert (await error_of(wrong)) == (await error_of(unknown))


async def test_logout_revokes_the_access_token_at_once(client: TestClient[Any, Any],
                                                       buyer: Account) -> None:
    r = await client.post("/logout", headers=buyer.auth)
    assert r.status == 204
    assert await _status_with(client, buyer.access) == (401, "unauthorized")
    r = await client.post("/refresh", json={"refreshToken": buyer.refresh})
    assert r.status == 401


async def test_logout_all_counts_and_ends_every_session(client: TestClient[Any, Any],
                                                        buyer: Account) -> None:
    second = (await (await _login(client, buyer.username)).json())["accessToken"]
    third = (await (await _login(client, buyer.username)).json())["accessToken"]
    r = await client.post("/logout/all", headers=buyer.auth)
    assert r.status == 200
    assert await r.json() == {"terminated": 3}
    for token in (buyer.access, second, third):
        assert await _status_with(client, token) == (401, "unauthorized")
    r = await _login(client, buyer.username)
    assert (await r.json())["activeSessions"] == 0


async def test_refresh_rotates_and_reuse_revokes_the_session(client: TestClient[Any, Any],
                                                             buyer: Account) -> None:
    r = await client.post("/refresh", json={"refreshToken": buyer.refresh})
    assert r.status == 200
    pair = await r.json()
    assert pair["refreshToken"] != buyer.refresh
    assert _claims(pair["refreshToken"])["sid"] == _claims(buyer.refresh)["sid"]
    assert await _status_with(client, pair["accessToken"]) == (200, "")
    # the old refresh token comes back: someone else has it, the family ends
    r = await client.post("/refresh", json={"refreshToken": buyer.refresh})
    assert r.status == 401
    for token in (pair["accessToken"], buyer.access):
        assert await _status_with(client, token) == (401, "unauthorized")
    r = await client.post("/refresh", json={"refreshToken": pair["refreshToken"]})
    assert r.status == 401


async def test_reuse_leaves_other_sessions_alone(client: TestClient[Any, Any],
                                                 app: web.Application, buyer: Account) -> None:
    other = await make_account(app, "buyer")
    await client.post("/refresh", json={"refreshToken": buyer.refresh})
    await client.post("/refresh", json={"refreshToken": buyer.refresh})
    assert await _status_with(client, other.access) == (200, "")


async def test_password_change_ends_the_other_sessions(client: TestClient[Any, Any],
                                                       buyer: Account) -> None:
    other = (await (await _login(client, buyer.username)).json())["accessToken"]
    r = await client.put("/user", json={"currentPassword": PASSWORD,
                                        "password": "a new password"}, headers=buyer.auth)
    assert r.status == 200
    assert await _status_with(client, buyer.access) == (200, "")
    assert await _status_with(client, other) == (401, "unauthorized")
    assert (await _login(client, buyer.username, "a new password")).status == 200


# --- throttling: see tests/api/test_throttle.py (several client addresses) ----------------


async def test_app_start_creates_the_secret(client: TestClient[Any, Any],
                                            tmp_path: Path) -> None:
    assert (tmp_path / SECRET_FILE).exists()
