"""The auth parts on their own: the secret file and the remembered token check."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from api.auth import SECRET_FILE, TokenService, load_secret
from controller.accounts.rules import OpenedSession
from controller.config import ApiConfig
from controller.errors import ConfigError, Unauthorized

# --- the secret file ----------------------------------------------------------------------


def test_secret_file_is_made_once_private(tmp_path: Path) -> None:
    secret = load_secret(None, tmp_path)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(secret) >= 32
    assert load_secret(None, tmp_path) == secret
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]
    assert load_secret("x" * 40, tmp_path) == "x" * 40


def test_a_configured_secret_shorter_than_32_bytes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_secret("x" * 31, tmp_path)
    with pytest.raises(ConfigError):
        load_secret("", tmp_path)
    assert load_secret("\u00e9" * 16, tmp_path) == "\u00e9" * 16  # 32 bytes of UTF-8


def _tokens(access_s: int = 60) -> tuple[TokenService, OpenedSession]:
    service = TokenService("s" * 48, ApiConfig(access_token_s=access_s))
    return service, OpenedSession(session_id="sid-1", refresh_jti="jti-1",
                                  expires_at=time.time() + 600, other_active=0)


def test_a_remembered_token_still_expires() -> None:
    service, session = _tokens(access_s=1)
    issued = int(time.time())
    access = service.pair(7, session)["accessToken"]
    assert service.verify(access, "access").user_id == 7
    assert service.verify(access, "access").session_id == "sid-1"  # remembered
    time.sleep(max(0.0, issued + 1.02 - time.time()))
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(access, "access")


def test_a_checked_token_does_not_vouch_for_another() -> None:
    service, session = _tokens()
    access = service.pair(7, session)["accessToken"]
    service.verify(access, "access")
    head, payload, signature = access.split(".")
    forged = ".".join((head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    with pytest.raises(Unauthorized):
        service.verify(forged, "access")
    with pytest.raises(Unauthorized):
        service.verify(access, "refresh")  # the type is checked on every call
