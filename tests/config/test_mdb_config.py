"""``[mdb]``, ``[acceptor] kind = "mdb"`` and ``[bills]``: what check-config accepts and refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import config
from controller.errors import ConfigError

CHANGER = '[mdb]\nport = "/dev/serial0"\ninterface = "qibixx"\n[acceptor]\nkind = "mdb"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "machine.toml"
    path.write_text(text)
    return path


def test_a_changer_replaces_the_hoppers_with_its_tubes(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, CHANGER + '[bills]\naccept_cents = [1000, 500]\n'))
    assert (cfg.mdb.port, cfg.mdb.interface, cfg.acceptor.kind) == ("/dev/serial0", "qibixx",
                                                                      "mdb")
    assert [(h.coin_cents, h.kind, h.capacity) for h in cfg.hoppers] == [
        (c, "mdb", 50) for c in (5, 10, 20, 50, 100)]
    assert cfg.bills is not None and cfg.bills.accept_cents == (500, 1000)
    lines = "\n".join(config.describe(cfg))
    assert "MDB coin changer" in lines and "bill validator" in lines and "hopper 5c" not in lines


def test_hoppers_beside_a_changer_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hoppers.*beside an MDB changer"):
        config.load(write(tmp_path, CHANGER + "[[hoppers]]\ncoin_cents = 50\n"))


@pytest.mark.parametrize("text, what", [
    ('[acceptor]\nkind = "mdb"\n', r"need an \[mdb\] section"),
    ('[bills]\naccept_cents = [500]\n', r"need an \[mdb\] section"),
    (CHANGER.replace("qibixx", "usb"), "one of"),
    (CHANGER + "[mdb.extra]\n", "unknown key"),
    (CHANGER + "[bills]\naccept_cents = [300]\n", "distinct bill values"),
    (CHANGER + "[bills]\naccept_cents = [500, 500]\n", "distinct bill values"),
    (CHANGER + "[bills]\naccept_cents = []\n", "distinct bill values"),
    (CHANGER + '[bills]\nkind = "pulse"\n', "one of"),
])
def test_bad_mdb_sections_are_refused(tmp_path: Path, text: str, what: str) -> None:
    with pytest.raises(ConfigError, match=what):
        config.load(write(tmp_path, text))
