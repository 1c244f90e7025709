"""The OpenAPI document matches the app, and the app keeps the document's promises."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance

from api.app import all_routes
from api.routes_live import SOCKET_PATHS
from api.routing import MACHINE_KEY
from api.serving import listen
from tests.api.conftest import Account, make_account

pytestmark = pytest.mark.asyncio

EXAMPLES_PER_OPERATION = 8
"""Cases per operation and generation mode: the whole run stays well under a minute."""


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


def _roles() -> dict[tuple[str, str], str | None]:
    """Which kind of account to call each operation with (None: anonymous)."""
    return {(r.method, r.path): (None if r.roles is None else
                                 "buyer" if "buyer" in r.roles else sorted(r.roles)[0])
            for r in all_routes()}


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


LOOSE_BODIES = {("POST", "/sim/fault"), ("POST", "/user"), ("PUT", "/user")}
"""Valid-looking input the server may refuse: which device takes which fault is the
simulator's call, and a new password must not be a common one or the username (a list
the document describes but does not enumerate)."""


def _run_operation(operation: Any, mode: schemathesis.GenerationMode, base_url: str,
                   headers: Callable[[], dict[str, str]], session: requests.Session) -> None:
    """A bounded number of generated calls to one operation, each checked against the document."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        # JSON Schema counts 5.0 as an integer; the API contract does not, so a
        # schema-valid float may rightly be refused.
        loose = (case.method.upper(), case.path) in LOOSE_BODIES
        excluded = [positive_data_acceptance] if loose or _has_float(case.body) else []
        case.call_and_validate(base_url=base_url, session=session, headers=headers(),
                               excluded_checks=excluded, timeout=10)

    check()


def _fuzz(document: dict[str, Any], base_url: str,
          account: Callable[[str], Account]) -> list[str]:
    """Run every operation in both generation modes; return the failures."""
    schema = schemathesis.openapi.from_dict(document)
    # The test supplies a valid token itself; a case "without" it would still carry it.
    schema.config.generation.update(with_security_parameters=False)
    roles = _roles()
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        role = roles[(operation.method.upper(), operation.path)]

        def headers(role: str | None = role) -> dict[str, str]:
            return account(role).auth if role else {}

        for mode in schemathesis.GenerationMode:
            try:
                _run_operation(operation, mode, base_url, headers, session)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): "
                                f"{str(exc)[:1500]}")
    return failures


@pytest_asyncio.fixture
async def served_url(app: web.Application) -> AsyncIterator[str]:
    """The app behind ``api.serving.listen`` on a real socket, as ``vending run`` serves it:
    aiohttp's own parser errors (a request line over 8190 bytes, a bad header) are then
    answered by the serving path's JSON handler, not aiohttp's plain-text default."""
    config = dataclasses.replace(app[MACHINE_KEY].config.api, host="127.0.0.1", port=0)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener, _ = await listen(runner, config)
    try:
        yield f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    finally:
        listener.close()
        await runner.cleanup()
        await listener.wait_closed()


async def test_schemathesis_finds_no_server_error_and_no_broken_promise(
        served_url: str, app: web.Application) -> None:
    document = await asyncio.to_thread(
        lambda: requests.get(f"{served_url}/openapi.json", timeout=10).json())
    loop = asyncio.get_running_loop()

    def account(role: str) -> Account:
        return asyncio.run_coroutine_threadsafe(make_account(app, role), loop).result(10)

    started = time.monotonic()
    failures = await asyncio.to_thread(_fuzz, document, served_url, account)
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - started < 60
