from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller import config
from controller.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "machine.toml"
    path.write_text(text)
    return path


def test_no_file_is_the_built_in_simulated_machine() -> None:
    cfg = config.load(None)
    assert cfg.machine.simulated
    assert cfg.slots.codes[0] == "A1" and cfg.slots.codes[-1] == "D6"
    assert len(cfg.slots.codes) == 24 and cfg.slots.capacity == 10
    assert [h.coin_cents for h in cfg.hoppers] == [5, 10, 20, 50, 100]
    assert [h.address for h in cfg.hoppers] == [3, 4, 5, 6, 7]
    assert cfg.acceptor.address == 2
    assert cfg.machine.max_credit_cents == 1000 and cfg.machine.deposit_claim_s == 30
    assert (cfg.api.host, cfg.api.port) == ("127.0.0.1", 8080)


def test_misspelt_key_is_refused_naming_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[machine]\nmax_credit_cent = 500\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert "max_credit_cent" in err.value.message and str(path) in err.value.message


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="motor"):
        config.load(write(tmp_path, "[motor]\nnudges = 2\n"))


def test_unknown_key_in_a_hopper_table_is_refused(tmp_path: Path) -> None:
    text = "[[hoppers]]\ncoin_cents = 50\ncapacty = 100\n"
    with pytest.raises(ConfigError, match="capacty"):
        config.load(write(tmp_path, text))


@pytest.mark.parametrize("text, what", [
    ("[machine]\nmax_credit_cents = 0\n", "at least"),
    ("[machine]\nmax_credit_cents = '500'\n", "expected int"),
    ("[machine]\nmax_credit_cents = true\n", "boolean"),
    ("[acceptor]\necho = 'sometimes'\n", "one of"),
    ("[motors]\nnudges = 9\n", "at most"),
    ("[[hoppers]]\ncoin_cents = 25\n", "must be one of"),
    ("[slots]\nrows = 'ab'\n", "capital"),
    ("[motors]\nrow_pins = [1, 2]\n", "expected 4 values"),
    ("not toml = = =", "not valid TOML"),
])
def test_bad_values_are_refused_with_reasons(tmp_path: Path, text: str, what: str) -> None:
    with pytest.raises(ConfigError, match=what):
        config.load(write(tmp_path, text))


def test_a_full_hardware_config(tmp_path: Path) -> None:
    text = """
[machine]
machine_id = "PI0042"
simulated = false
max_credit_cents = 2000
[acceptor]
port = "/dev/ttyUSB0"
echo = "on"
[[hoppers]]
coin_cents = 50
address = 3
[[hoppers]]
coin_cents = 100
kind = "pulse"
motor_pin = 20
sensor_pin = 21
[slots]
rows = "ABC"
columns = 4
[motors]
row_pins = [5, 6, 12]
column_pins = [16, 19, 4, 26]
[keypad]
column_pins = [9, 11, 13, 14]
"""
    cfg = config.load(write(tmp_path, text))
    assert not cfg.machine.simulated
    assert cfg.hopper_capacity == {50: 200, 100: 200}
    assert cfg.slots.codes == [f"{r}{c}" for r in "ABC" for c in range(1, 5)]
    lines = "\n".join(config.describe(cfg))
    assert "ccTalk (generic) at address 2 on /dev/ttyUSB0" in lines
    assert "hopper 100c: pulse motor GPIO20" in lines


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.toml")


def test_the_example_pi_config_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "systemd" / "vending.toml"
    cfg = config.load(path)
    assert not cfg.machine.simulated
    assert cfg.acceptor.port == "/dev/serial0"
    assert len(cfg.hoppers) == 5


REAL = "[machine]\nsimulated = false\n"
FREE_KEYPAD = "[keypad]\ncolumn_pins = [9, 11, 26, 4]\n[slots]\ncolumns = 4\n" \
              "[motors]\ncolumn_pins = [16, 19, 20, 21]\n"


@pytest.mark.parametrize(("text", "match"), [
    (REAL + FREE_KEYPAD.replace("[motors]\n", "[motors]\ncam_pin = 17\n"),
     r"used twice: GPIO17 \(cam switch, keypad row 1\)"),
    (REAL + FREE_KEYPAD + "[[hoppers]]\ncoin_cents = 50\nkind = \"pulse\"\nmotor_pin = 13\n",
     "pulse hopper 50c needs motor_pin and sensor_pin"),
    (REAL, r"pins the Pi reserves: GPIO0 \(keypad column 3\); GPIO1 \(keypad column 4\)"),
    (REAL + FREE_KEYPAD + "[[hoppers]]\ncoin_cents = 50\nkind = \"pulse\"\nmotor_pin = 14\n"
     "sensor_pin = 15\n", r"GPIO14 \(hopper 50c motor\).*GPIO14 is the UART TXD"),
    ("[slots]\nrows = \"ABCDE\"\n", "row keys ABCD"),
])
def test_check_config_refuses_pins_of_a_real_machine(tmp_path: Path, text: str,
                                                      match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config.load(write(tmp_path, text))


def test_pins_of_a_real_machine_that_fit(tmp_path: Path) -> None:
    usb = "[acceptor]\nport = \"/dev/ttyUSB0\"\n"
    hopper = "[[hoppers]]\ncoin_cents = 50\nkind = \"pulse\"\nmotor_pin = 14\nsensor_pin = 15\n"
    cfg = config.load(write(tmp_path, REAL + FREE_KEYPAD + usb + hopper))
    assert (cfg.hoppers[0].motor_pin, cfg.hoppers[0].sensor_pin) == (14, 15)
    # in sim mode GPIO0 is a pin like any other (0 is not "unset")
    sim = config.load(write(tmp_path, FREE_KEYPAD + "[[hoppers]]\ncoin_cents = 50\n"
                                      "kind = \"pulse\"\nmotor_pin = 0\nsensor_pin = 1\n"))
    assert (sim.hoppers[0].motor_pin, sim.hoppers[0].sensor_pin) == (0, 1)


def test_a_card_reader_config(tmp_path: Path) -> None:
    text = ('[mdb]\nport = "/dev/ttyAMA0"\n'
            '[cashless]\nkind = "mdb"\nalways_idle = true\nvend_timeout_s = 20\n'
            'max_price_cents = 500\n')
    cfg = config.load(write(tmp_path, text))
    assert cfg.cashless.enabled and cfg.cashless.always_idle
    assert cfg.cashless.vend_timeout_s == 20 and cfg.cashless.max_price_cents == 500
    lines = "\n".join(config.describe(cfg))
    assert "card reader: MDB cashless at 10, always idle" in lines
    assert "MDB bus: qibixx on /dev/ttyAMA0" in lines
    assert not config.Config().cashless.enabled  # the built-in machine has no reader


@pytest.mark.parametrize(("text", "what"), [
    ('[cashless]\nkind = "mdb"\n', "need an [mdb] section"),
    ('[mdb]\n[cashless]\nkind = "nfc"\n', "kind"),
    ('[mdb]\n[cashless]\nkind = "mdb"\nvend_timeout_s = 0\n', "vend_timeout_s"),
    ('[mdb]\n[cashless]\nkind = "mdb"\nmax_price_cents = 123\n', "multiple of 5"),
    ('[mdb]\n[cashless]\nkind = "mdb"\ntimeout = 3\n', "timeout"),
])
def test_bad_card_reader_configs_are_refused(tmp_path: Path, text: str, what: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(what)):
        config.load(write(tmp_path, text))
