"""The wiring table of a config: which part goes to which Pi pin (BCM numbers).

``vending check-config FILE --wiring`` prints it for any config, and the README's
table is this function's answer for ``systemd/vending.toml`` (a test keeps the
two the same), so the table a technician wires from is the config the machine
reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.config.model import Config
from controller.config.pins import uses_pi_uart


def _gpio(pins: Sequence[int | None]) -> str:
    return "GPIO" + ", ".join(str(p) for p in pins)


def wiring_rows(config: Config) -> list[tuple[str, str, str]]:
    """(part, Pi side, note) for every device the config drives."""
    a, mo, kp, lcd = config.acceptor, config.motors, config.keypad, config.lcd
    rows: list[tuple[str, str, str]] = []
    cctalk = [h for h in config.hoppers if h.kind == "cctalk"]
    if a.kind == "cctalk" or cctalk:
        who = []
        if a.kind == "cctalk":
            who.append(f"acceptor at {a.address}")
        if cctalk:
            who.append("hoppers at " + ", ".join(str(h.address) for h in cctalk))
        side = (f"UART TXD GPIO14, RXD GPIO15 (`{a.port}`)" if uses_pi_uart(config)
                else f"a USB ccTalk adapter (`{a.port}`)")
        rows.append((f"ccTalk bus ({'; '.join(who)})", side,
                     "through a single-wire ccTalk interface (12 V line; `echo = \"auto\"` "
                     "detects its echo); for the UART enable it in `raspi-config` with the "
                     "login shell off; a USB adapter (`/dev/ttyUSB0`) frees GPIO14/15"))
    rows.append((f"spiral matrix ({config.slots.rows[0]}1..{config.slots.rows[-1]}"
                 f"{config.slots.columns})",
                 f"rows {_gpio(mo.row_pins)}; columns {_gpio(mo.column_pins)}",
                 "through driver transistors or relays, never straight to a motor; one row "
                 "and one column on at a time"))
    rows.append(("cam (home) switch, drop sensor", f"GPIO{mo.cam_pin}, GPIO{mo.drop_pin}",
                 "inputs with pull-ups, to ground when active"))
    rows.append(("4x4 keypad", f"rows {_gpio(kp.row_pins)}; columns {_gpio(kp.column_pins)}",
                 "rows driven, columns read with pull-ups"))
    rows.append(("HD44780 16x2 LCD, 4-bit",
                 f"RS GPIO{lcd.rs_pin}, E GPIO{lcd.e_pin}, D4..D7 {_gpio(lcd.data_pins)}",
                 "R/W to ground; a 5 V module needs its data lines level-shifted, or use a "
                 "3.3 V module"))
    if a.kind == "pulse":
        rows.append(("pulse coin acceptor", f"pulse GPIO{a.pulse_pin}, inhibit "
                     f"GPIO{a.inhibit_pin}", "the inhibit input wants 0 V to refuse: drive "
                     "it through a transistor"))
    for h in config.hoppers:
        if h.kind == "pulse":
            rows.append((f"pulse hopper {h.coin_cents}c", f"motor GPIO{h.motor_pin}, "
                         f"exit sensor GPIO{h.sensor_pin}", "motor through a relay or driver"))
    return rows


def wiring_table(config: Config) -> str:
    """The rows as a Markdown table."""
    lines = ["| part | Pi side (BCM) | note |", "|---|---|---|"]
    lines += [f"| {part} | {side} | {note} |" for part, side, note in wiring_rows(config)]
    return "\n".join(lines)
