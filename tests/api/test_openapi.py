"""The OpenAPI document matches the app (its promises are fuzzed in test_openapi_fuzz.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.routes_live import SOCKET_PATHS

pytestmark = pytest.mark.asyncio


def _app_operations(app: web.Application) -> set[tuple[str, str]]:
    """The app's HTTP operations (the live pages' WebSockets are not API operations)."""
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and path and path not in SOCKET_PATHS:
            out.add((route.method, re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    return out


async def test_document_lists_exactly_the_routes_of_the_app(client: TestClient[Any, Any],
                                                            app: web.Application) -> None:
    r = await client.get("/openapi.json")
    assert r.status == 200
    document = await r.json()
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in document["paths"].items()
                  for method in ops}
    assert documented == _app_operations(app)


async def test_document_declares_bearer_auth(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/user"]["get"]["security"] == [{"bearer": []}]
    assert document["paths"]["/user"]["post"]["security"] == []
    body = document["paths"]["/product"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["additionalProperties"] is False
    assert body["schema"]["properties"]["cost"]["multipleOf"] == 5
