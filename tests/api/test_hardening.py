"""Smaller defences: sim mode against browsers, Server header, encodings, the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.browser_guard import host_allowed
from tests.api.conftest import error_of
from tests.api.fake_machine import FakeMachine

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(("path", "headers", "data"), [
    ("/sim/coin", FORM, b"coin=100"),
    ("/sim/coin", {"Content-Type": "text/plain"}, b'{"coin": 100}'),
    ("/sim/tray/take", {}, None),  # a "simple" cross-site fetch: no preflight
    ("/sim/press", {}, None),
    ("/user", {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
])
@pytest.mark.asyncio
async def test_cross_site_posts_are_refused_in_sim_mode(client: TestClient[Any, Any], path: str,
                                                        headers: dict[str, str],
                                                        data: bytes | None) -> None:
    r = await client.post(path, data=data, headers=headers)
    assert r.status == 415
    assert (await error_of(r))["code"] == "unsupported_media_type"
    assert (await (await client.get("/sim/state")).json())["returned"] == []


@pytest.mark.asyncio
async def test_the_same_posts_as_json_work(client: TestClient[Any, Any]) -> None:
    r = await client.post("/sim/tray/take", headers={"Content-Type": "application/json"})
    assert r.status == 200
    assert (await client.post("/sim/tray/take", json={})).status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io",
                                  "vending.attacker.test."])
@pytest.mark.asyncio
async def test_a_rebound_host_name_is_refused_in_sim_mode(client: TestClient[Any, Any],
                                                          host: str) -> None:
    for method, path, body in [("GET", "/sim/state", None), ("POST", "/sim/coin", {"coin": 5}),
                               ("GET", "/", None)]:
        r = await client.request(method, path, json=body, headers={"Host": host})
        assert r.status == 403, (method, path)
        assert (await error_of(r))["code"] == "forbidden"


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1", "[::1]:8080",
                                  "LOCALHOST.", "panel.localhost"])
@pytest.mark.asyncio
async def test_local_names_are_answered(client: TestClient[Any, Any], host: str) -> None:
    r = await client.get("/sim/state", headers={"Host": host})
    assert r.status == 200


def test_host_rule_for_a_machine_bound_to_every_interface() -> None:
    assert host_allowed("192.168.1.20:8080", "0.0.0.0")
    assert host_allowed("[fe80::1]:8080", "::")
    assert not host_allowed("vending.example:8080", "0.0.0.0")
    assert host_allowed("vending.lan:8080", "vending.lan")
    assert not host_allowed("192.168.1.20", "127.0.0.1")


@pytest.mark.asyncio
async def test_no_versions_in_the_server_header(client: TestClient[Any, Any]) -> None:
    for path in ("/health", "/nope", "/openapi.json"):
        r = await client.get(path)
        assert r.headers["Server"] == "vending"


@pytest.mark.parametrize("encoding", ["compress", "x-custom", "identity, compress"])
@pytest.mark.asyncio
async def test_a_body_in_an_encoding_we_do_not_decode_is_415(client: TestClient[Any, Any],
                                                             encoding: str) -> None:
    r = await client.post("/login", data=b"\x8b\x03\x80{}\x03",
                          headers={"Content-Type": "application/json",
                                   "Content-Encoding": encoding})
    assert r.status == 415
    error = await error_of(r)
    assert error["code"] == "unsupported_media_type" and "install" not in error["message"]


@pytest.mark.asyncio
async def test_hardware_documents_no_sim_routes(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path, simulated=False)
    await machine.start()
    try:
        async with TestClient(TestServer(create_app(machine))) as client:
            document = await (await client.get("/openapi.json")).json()
            assert not [p for p in document["paths"] if p.startswith("/sim") or p == "/"]
            assert "/product" in document["paths"]
            # and no browser guard on hardware: a LAN name is fine
            r = await client.get("/health", headers={"Host": "vending.lan"})
            assert r.status == 200
    finally:
        await machine.close()
