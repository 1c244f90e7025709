"""TLS by the listening socket: ``[api] tls_cert_file`` and ``tls_key_file``."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from api.app import create_app
from api.serving import listen, tls_context
from controller.config import ApiConfig, Config, parse
from controller.errors import ConfigError
from tests.api.fake_machine import FakeMachine


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


async def _get(port: int, context: ssl.SSLContext | None) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


@pytest.mark.asyncio
async def test_the_api_serves_https_with_the_configured_certificate(
        tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    api = replace(ApiConfig(), port=0, tls_cert_file=str(cert), tls_key_file=str(key))
    machine = FakeMachine(tmp_path, config=replace(Config(), api=api))
    await machine.start()
    runner = web.AppRunner(create_app(machine), access_log=None)
    await runner.setup()
    listener, _ = await listen(runner, api, ssl_context=tls_context(api))
    port = listener.sockets[0].getsockname()[1]
    try:
        client = ssl.create_default_context(cafile=str(cert))
        assert (await _get(port, client)).startswith(b"HTTP/1.1 200")
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError, AssertionError)):
            answer = await _get(port, None)  # plain HTTP to the TLS port: no answer
            assert answer.startswith(b"HTTP/1.1 200")
    finally:
        listener.close()
        await runner.cleanup()
        await listener.wait_closed()
        await machine.close()


def test_tls_needs_both_files_that_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both"):
        parse({"api": {"tls_cert_file": "/etc/vending/cert.pem"}}, "t.toml")
    api = parse({"api": {"tls_cert_file": str(tmp_path / "no.pem"),
                         "tls_key_file": str(tmp_path / "no.key")}}, "t.toml").api
    with pytest.raises(ConfigError, match="cannot load"):
        tls_context(api)
    assert tls_context(ApiConfig()) is None
