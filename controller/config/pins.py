"""Cross-field checks of a config's GPIO pins, run when a config is parsed.

One place for every rule about pins, so ``vending check-config`` refuses for a
real machine what the simulated one refuses too: a pin used by two devices, a
device missing a pin it needs, a pin the Pi does not have, and (on real
hardware) pins the Pi reserves: GPIO0/1 for the HAT ID EEPROM, and GPIO14/15
while the Pi's own UART is the ccTalk port.  A pin is ``int | None``: 0 is a
pin, None is "not given".
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from controller.errors import ConfigError

if TYPE_CHECKING:
    from controller.config.model import Config

PI_GPIO = range(28)  # GPIO0..27 on the 40-pin header
HAT_EEPROM_PINS = {0: "HAT ID EEPROM SDA", 1: "HAT ID EEPROM SCL"}
UART_PINS = {14: "UART TXD", 15: "UART RXD"}
PI_UART_PORTS = ("/dev/serial0", "/dev/serial1", "/dev/ttyAMA0", "/dev/ttyS0")


def pin_users(config: Config) -> dict[int, list[str]]:
    """Every GPIO pin the config uses, with the names of its users."""
    users: dict[int, list[str]] = defaultdict(list)
    for pin, name in _named_pins(config):
        users[pin].append(name)
    return users


def _named_pins(config: Config) -> list[tuple[int, str]]:
    mo, kp, lcd = config.motors, config.keypad, config.lcd
    named = [(pin, f"spiral row {row}")
             for row, pin in zip(config.slots.rows, mo.row_pins, strict=False)]
    named += [(pin, f"spiral column {c}") for c, pin in enumerate(mo.column_pins, start=1)]
    named += [(mo.cam_pin, "cam switch"), (mo.drop_pin, "drop sensor")]
    named += [(pin, f"keypad row {i}") for i, pin in enumerate(kp.row_pins, start=1)]
    named += [(pin, f"keypad column {i}") for i, pin in enumerate(kp.column_pins, start=1)]
    named += [(lcd.rs_pin, "LCD RS"), (lcd.e_pin, "LCD E")]
    named += [(pin, f"LCD {d}") for d, pin in zip(("D4", "D5", "D6", "D7"), lcd.data_pins,
                                                  strict=False)]
    return named + _coin_device_pins(config)


def _coin_device_pins(config: Config) -> list[tuple[int, str]]:
    named: list[tuple[int, str]] = []
    a = config.acceptor
    if a.kind == "pulse":
        if a.pulse_pin is None or a.inhibit_pin is None:
            raise ConfigError(f"{config.source}: the pulse acceptor needs pulse_pin and "
                              "inhibit_pin")
        named += [(a.pulse_pin, "acceptor pulse"), (a.inhibit_pin, "acceptor inhibit")]
    for h in config.hoppers:
        if h.kind != "pulse":
            continue
        if h.motor_pin is None or h.sensor_pin is None:
            raise ConfigError(f"{config.source}: pulse hopper {h.coin_cents}c needs "
                              "motor_pin and sensor_pin")
        named += [(h.motor_pin, f"hopper {h.coin_cents}c motor"),
                  (h.sensor_pin, f"hopper {h.coin_cents}c sensor")]
    return named


def uses_pi_uart(config: Config) -> bool:
    """A ccTalk device is on the Pi's own UART (GPIO14/15), not a USB adapter."""
    cctalk = config.acceptor.kind == "cctalk" or any(h.kind == "cctalk" for h in config.hoppers)
    return cctalk and config.acceptor.port in PI_UART_PORTS


def reserved_pins(config: Config) -> dict[int, str]:
    """Pins a real Pi keeps for itself under this config."""
    if config.machine.simulated:
        return {}
    return {**HAT_EEPROM_PINS, **(UART_PINS if uses_pi_uart(config) else {})}


def check_pins(config: Config) -> None:
    """ConfigError naming every pin used twice, missing, absent or reserved."""
    users = pin_users(config)

    def listed(pins: list[int]) -> str:
        return "; ".join(f"GPIO{p} ({', '.join(users[p])})" for p in pins)

    shared = [p for p in sorted(users) if len(users[p]) > 1]
    if shared:
        raise ConfigError(f"{config.source}: GPIO pins used twice: {listed(shared)}")
    absent = [p for p in sorted(users) if p not in PI_GPIO]
    if absent:
        where = "the simulated Pi" if config.machine.simulated else "the Pi"
        raise ConfigError(f"{config.source}: {where} has GPIO0..27 only, not {listed(absent)}")
    reserved = reserved_pins(config)
    taken = [p for p in sorted(users) if p in reserved]
    if taken:
        why = ", ".join(f"GPIO{p} is the {reserved[p]}" for p in taken)
        raise ConfigError(f"{config.source}: pins the Pi reserves: {listed(taken)} ({why})")
