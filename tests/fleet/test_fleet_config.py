"""The [telemetry] config section and the fleet table, without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller import config as config_mod
from controller.cli import main
from controller.errors import ConfigError
from controller.fleet.picture import FleetPicture
from controller.fleet.table import render


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vending.toml"
    path.write_text(text)
    return path


def test_only_a_telemetry_section_is_the_built_in_machine_with_telemetry(tmp_path: Path) -> None:
    cfg = config_mod.load(write(tmp_path, '[telemetry]\nbroker = "mqtts://broker.lan"\n'))
    assert cfg.telemetry is not None
    assert (cfg.telemetry.host, cfg.telemetry.port, cfg.telemetry.tls) == ("broker.lan", 8883,
                                                                            True)
    assert cfg.telemetry.topic_prefix == "vending" and cfg.telemetry.commands is False
    built_in = config_mod.Config()
    assert (cfg.machine, cfg.slots, cfg.hoppers, cfg.acceptor) == (
        built_in.machine, built_in.slots, built_in.hoppers, built_in.acceptor)
    assert cfg.machine.machine_id == "RPV0001"
    assert config_mod.load(None).telemetry is None


def test_every_telemetry_key(tmp_path: Path) -> None:
    cfg = config_mod.load(write(tmp_path, (
        '[machine]\nmachine_id = "RPV0099"\n[telemetry]\nbroker = "mqtt://10.0.0.5:1884"\n'
        'topic_prefix = "acme/vending"\ncommands = true\nusername = "RPV0099"\n'
        'password_file = "/etc/vending/mqtt.pass"\nca_file = "/etc/vending/ca.crt"\n')))
    t = cfg.telemetry
    assert t is not None
    assert (t.host, t.port, t.tls, t.topic_prefix, t.commands, t.username, t.password_file,
            t.ca_file) == ("10.0.0.5", 1884, False, "acme/vending", True, "RPV0099",
                           "/etc/vending/mqtt.pass", "/etc/vending/ca.crt")


@pytest.mark.parametrize("body", [
    'broker = "http://broker"', 'broker = "mqtt://"', 'broker = "mqtt://h:70000"',
    'topic_prefix = "a/+"', 'topic_prefix = "/vending"', "commands = 1",
    'brokr = "mqtt://h"',
])
def test_a_bad_telemetry_key_is_refused_by_name(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError, match=r"telemetry"):
        config_mod.load(write(tmp_path, f"[telemetry]\n{body}\n"))


def test_fleet_without_a_broker_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "--once"]) == 2
    assert "--broker" in capsys.readouterr().err
    assert main(["fleet", "--once", "--broker", "tcp://x"]) == 2


def test_fleet_with_no_broker_listening_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.process import free_port

    assert main(["fleet", "--once", "--broker", f"mqtt://127.0.0.1:{free_port()}"]) == 1
    assert "vending: broker mqtt://127.0.0.1:" in capsys.readouterr().err


def test_the_fleet_table_from_status_and_inventory() -> None:
    picture = FleetPicture("vending")
    slots = [{"slot": "A1", "productName": "Cola", "cost": 50, "amountAvailable": 0,
              "status": "ok"},
             {"slot": "A2", "productName": "Chips", "cost": 80, "amountAvailable": 2,
              "status": "ok"},
             {"slot": "A3", "productName": "Gum", "cost": 40, "amountAvailable": 5,
              "status": "out_of_order"},
             {"slot": "A4", "productName": None, "cost": None, "amountAvailable": 0,
              "status": "ok"}]
    coins = [{"coin": 100, "payout": 3, "cashbox": 1}, {"coin": 5, "payout": 2, "cashbox": 0}]
    picture.take("vending/RPV0002/inventory",
                 json.dumps({"slots": slots, "coins": coins}).encode())
    picture.take("vending/RPV0002/status", json.dumps({
        "online": True, "state": "credit",
        "faults": [{"device": "hopper:50", "reason": "paid short", "latched": True}],
        "version": "0.1.0", "ts": 1.0, "salesToday": {"count": 3, "cents": 190}}).encode())
    picture.take("vending/RPV0001/status", b'{"online": false}')
    assert not picture.take("other/RPV0003/status", b'{"online": true}')
    lines = render(picture).splitlines()
    assert lines[1].split() == ["RPV0001", "NO", "-", "-", "-", "-", "-", "-", "-"]
    assert lines[2].split() == ["RPV0002", "yes", "credit", "hopper:50!", "A1,A3!", "A2",
                                "3.10", "1.00", "3", "/", "1.90"]
    assert lines[3] == "2 machines, 1 online, 1 fault, sales today 3 / 1.90"
    assert "RPV0001: offline, last seen unknown" in lines
    assert "RPV0002: hopper:50 fault, latched: paid short" in lines
