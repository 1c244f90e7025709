"""The [api] keys of the security work: secrets, sign-up roles, limits."""

from __future__ import annotations

import pytest

from controller.config import parse
from controller.errors import ConfigError


def test_a_short_jwt_secret_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"jwt_secret.*32 bytes"):
        parse({"api": {"jwt_secret": "correct horse battery staple"}}, "t.toml")
    assert parse({"api": {"jwt_secret": "k" * 32}}, "t.toml").api.jwt_secret == "k" * 32


def test_signup_roles() -> None:
    assert parse({}, "t.toml").api.signup_roles == ("buyer", "seller")
    assert parse({"api": {"signup_roles": ["buyer"]}}, "t.toml").api.signup_roles == ("buyer",)
    assert parse({"api": {"signup_roles": []}}, "t.toml").api.signup_roles == ()
    for bad in (["operator"], ["buyer", 3], "buyer"):
        with pytest.raises(ConfigError, match="signup_roles"):
            parse({"api": {"signup_roles": bad}}, "t.toml")


def test_connection_and_throttle_limits_are_bounded() -> None:
    api = parse({"api": {"max_connections": 200, "max_connections_per_address": 20,
                         "request_head_timeout_s": 2.5, "max_slots_per_seller": 0}},
                "t.toml").api
    assert (api.max_connections, api.max_connections_per_address) == (200, 20)
    assert api.request_head_timeout_s == 2.5 and api.max_slots_per_seller == 0
    with pytest.raises(ConfigError, match="request_head_timeout_s"):
        parse({"api": {"request_head_timeout_s": 0}}, "t.toml")
    with pytest.raises(ConfigError, match="max_connections"):
        parse({"api": {"max_connections": 1}}, "t.toml")
