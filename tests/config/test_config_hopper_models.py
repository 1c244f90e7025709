"""Hopper and acceptor models and dispense security in the config: encrypted modes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import config
from controller.errors import ConfigError


def load(tmp_path: Path, hopper: str) -> config.HopperConfig:
    path = tmp_path / "machine.toml"
    path.write_text(f"[[hoppers]]\ncoin_cents = 50\n{hopper}")
    return config.load(path).hoppers[0]


@pytest.mark.parametrize(("hopper", "model", "security"), [
    ("", "flow", "serial"),
    ("model = 'sch2'\n", "sch2", "zero"),
    ("model = 'sch1'\n", "sch1", "serial"),
    ("security = 'zero'\n", "sch2", "zero"),  # the SCH2 no-encryption firmware
    ("model = 'flow'\nsecurity = 'serial'\n", "flow", "serial"),
    ("model = 'plain'\n", "plain", "none"),  # a dispense of just the count
    ("security = 'none'\n", "plain", "none"),
])
def test_model_and_security(tmp_path: Path, hopper: str, model: str, security: str) -> None:
    h = load(tmp_path, hopper)
    assert (h.model, h.security) == (model, security)


@pytest.mark.parametrize(("hopper", "what"), [
    ("security = 'des'\n", "not supported.*vendor's cipher"),
    ("security = 'encrypted'\n", "not supported"),
    ("model = 'sch3'\n", "must be one of"),
    ("model = 'sch2'\nsecurity = 'serial'\n", "a sch2 hopper speaks 'zero'"),
    ("model = 'flow'\nsecurity = 'zero'\n", "a flow hopper speaks 'serial'"),
    ("model = 'flow'\nsecurity = 'none'\n", "a flow hopper speaks 'serial'"),
    ("model = 'plain'\nsecurity = 'zero'\n", "a plain hopper speaks 'none'"),
])
def test_modes_we_cannot_speak_are_refused(tmp_path: Path, hopper: str, what: str) -> None:
    with pytest.raises(ConfigError, match=what):
        load(tmp_path, hopper)


def load_acceptor(tmp_path: Path, acceptor: str) -> config.AcceptorConfig:
    path = tmp_path / "machine.toml"
    path.write_text(f"[acceptor]\n{acceptor}")
    return config.load(path).acceptor


@pytest.mark.parametrize(("acceptor", "model"), [
    ("", "generic"), ("model = 'basic'\n", "basic"), ("model = 'retentive'\n", "retentive")])
def test_acceptor_model(tmp_path: Path, acceptor: str, model: str) -> None:
    assert load_acceptor(tmp_path, acceptor).model == model


def test_an_unknown_acceptor_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[acceptor\] model.*must be one of"):
        load_acceptor(tmp_path, "model = 'sr9'\n")
