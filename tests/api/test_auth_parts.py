"""The auth parts on their own: the throttle's window and the secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from api.auth import SECRET_FILE, load_secret
from controller.errors import ConfigError

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
