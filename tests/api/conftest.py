"""Fixtures of the API tests: one ``machine`` fixture, the app on a test server, accounts.

Swap ``machine`` for the real ``controller.machine.Machine`` (simulated) and
the tests that do not pull a double's hooks run unchanged.  Accounts are
made straight in the store with one precomputed password hash, and their
tokens minted through the same code as ``/login``, so only the tests about
login itself pay for scrypt.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.routing import AUTH_KEY, MACHINE_KEY
from controller.accounts import rules as accounts
from controller.accounts.passwords import hash_password
from tests.api.fake_machine import FakeMachine

PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)
_names = itertools.count(1)


@dataclass
class Account:
    """A test account with a live session."""

    id: int
    username: str
    role: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


FAKE_ONLY = os.environ.get("VENDING_API_MACHINE") == "fake"
"""``VENDING_API_MACHINE=fake``: run the API tests against the test double only (fast)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "double_only: needs the FakeMachine test double")
    config.addinivalue_line("markers", "machine_config(**kw): [machine] settings of the "
                                       "real simulated machine")


@pytest_asyncio.fixture
async def machine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """The machine behind the app: the real simulated Machine (devices, FSM, store).

    Tests marked ``double_only`` pull hooks of the FakeMachine test double to
    force errors the real machine only shows under hardware faults.
    """
    if not FAKE_ONLY and request.node.get_closest_marker("double_only") is None:
        import dataclasses

        from controller.app import build_machine
        from controller.config import Config

        cfg = Config()
        settings = request.node.get_closest_marker("machine_config")
        if settings is not None:
            cfg = dataclasses.replace(cfg, machine=dataclasses.replace(cfg.machine,
                                                                       **settings.kwargs))
        real: Any = build_machine(cfg, tmp_path / "vending.db")
        await real.start()
        try:
            yield real
        finally:
            await real.close()
        return
    fake = FakeMachine(tmp_path)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def app(machine: FakeMachine) -> web.Application:
    return create_app(machine)


@pytest_asyncio.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def make_account(app: web.Application, role: str, username: str | None = None) -> Account:
    """An account of any role with an open session (no scrypt on the way)."""
    store = app[MACHINE_KEY].store
    name = username or f"{role}{next(_names)}"
    new = accounts.NewUser(username=name, role=role, password_hash=PASSWORD_HASH)
    user = await store.tx(lambda db: accounts.create_user(db, new))
    tokens = app[AUTH_KEY].tokens
    session = await store.tx(
        lambda db: accounts.open_session(db, user["id"], ttl_s=tokens.refresh_s))
    pair = tokens.pair(user["id"], session)
    return Account(user["id"], name, role, pair["accessToken"], pair["refreshToken"])


@pytest_asyncio.fixture
async def buyer(client: TestClient[Any, Any], app: web.Application) -> Account:
    return await make_account(app, "buyer")


@pytest_asyncio.fixture
async def seller(client: TestClient[Any, Any], app: web.Application) -> Account:
    return await make_account(app, "seller")


@pytest_asyncio.fixture
async def other_seller(client: TestClient[Any, Any], app: web.Application) -> Account:
    return await make_account(app, "seller")


@pytest_asyncio.fixture
async def operator(client: TestClient[Any, Any], app: web.Application) -> Account:
    return await make_account(app, "operator")


async def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of an error answer (checks the contract's shape)."""
    body = await response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error
