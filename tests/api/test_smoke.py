from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.conftest import Account

pytestmark = pytest.mark.asyncio


async def test_health_and_user(client: TestClient[Any, Any], buyer: Account) -> None:
    r = await client.get("/health")
    assert r.status == 200
    r = await client.get("/user", headers=buyer.auth)
    assert r.status == 200, await r.text()
    assert (await r.json())["username"] == buyer.username
