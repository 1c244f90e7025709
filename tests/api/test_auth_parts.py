"""The auth parts on their own: the throttle's window and the secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from api.auth import SECRET_FILE, LoginThrottle, load_secret
from controller.errors import TooManyAttempts


def test_throttle_window_slides() -> None:
    throttle = LoginThrottle(2)
    throttle.attempt("k", now=0.0)
    throttle.attempt("k", now=30.0)
    with pytest.raises(TooManyAttempts):
        throttle.attempt("k", now=59.0)
    throttle.attempt("k", now=60.5)  # the first attempt has left the window


# --- the secret file ----------------------------------------------------------------------


def test_secret_file_is_made_once_private(tmp_path: Path) -> None:
    secret = load_secret(None, tmp_path)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(secret) >= 32
    assert load_secret(None, tmp_path) == secret
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]
    assert load_secret("x" * 40, tmp_path) == "x" * 40
