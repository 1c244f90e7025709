"""What a parsed config would drive, in words: ``vending check-config``'s output."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.config.model import Config


def describe(config: Config) -> list[str]:
    """What the config would drive, one line per device (for check-config)."""
    m = config.machine
    mode = "simulated hardware" if m.simulated else "real hardware"
    a = config.acceptor
    lines = [
        f"config: {config.source}",
        f"machine {m.machine_id} ({m.model}), {mode}, currency {m.currency} ({m.currency_code})",
        f"audit report (EVA-DTS) from {m.audit_sender}, asset {m.asset_number or m.machine_id}, "
        f"currency code {m.audit_currency_code:04d}",
        f"max credit {m.max_credit_cents} cents, deposit claim {m.deposit_claim_s:g} s "
        f"(then {m.deposit_claim_cooldown_s:g} s before the account's next one if no coin came)",
        f"api on {config.api.host}:{config.api.port}"
        + (f" over TLS ({config.api.tls_cert_file})" if config.api.tls_cert_file else ""),
        f"slots {config.slots.codes[0]}..{config.slots.codes[-1]} "
        f"({len(config.slots.codes)} spirals, capacity {config.slots.capacity})",
    ]
    if a.kind == "mdb":
        lines.append(f"MDB bus: {config.mdb.interface} on {config.mdb.port}, each device "
                     f"polled every {config.mdb.poll_interval_s:g} s")
        lines.append(f"coin acceptor: MDB coin changer at 08, its tubes pay change "
                     f"({config.mdb.tube_capacity} coins each)")
    elif a.kind == "cctalk":
        lines.append(f"coin acceptor: ccTalk ({a.model}) at address {a.address} on {a.port} "
                     f"(echo {a.echo}, {a.checksum} checksum, poll every {a.poll_interval_s:g} s)")
    else:
        lines.append(f"coin acceptor: pulse on GPIO{a.pulse_pin}, "
                     f"inhibit GPIO{a.inhibit_pin}")
    c = config.cashless
    if c.enabled:
        if a.kind != "mdb":
            lines.append(f"MDB bus: {config.mdb.interface} on {config.mdb.port}")
        lines.append("card reader: MDB cashless at 10, "
                     + ("always idle when it offers it, " if c.always_idle else "")
                     + f"a vend request cancelled after {c.vend_timeout_s:g} s"
                     + (f", prices up to {c.max_price_cents} cents" if c.max_price_cents
                        else ""))
    if config.bills is not None:
        lines.append("bill validator: MDB at 30, through escrow, taking "
                     + ", ".join(str(v) for v in config.bills.accept_cents) + " cents")
    for h in config.hoppers:
        if h.kind == "mdb":
            continue
        where = (f"ccTalk address {h.address} ({h.model}, {h.security} security)"
                 if h.kind == "cctalk"
                 else f"pulse motor GPIO{h.motor_pin}, sensor GPIO{h.sensor_pin}")
        lines.append(f"hopper {h.coin_cents}c: {where}, capacity {h.capacity}")
    mo = config.motors
    lines.append(f"spiral motors: rows on GPIO{mo.row_pins}, columns on GPIO{mo.column_pins}, "
                 f"cam GPIO{mo.cam_pin}, drop sensor GPIO{mo.drop_pin}, "
                 f"{mo.vend_timeout_s:g} s per vend, {mo.nudges} nudges")
    lines.append(f"keypad: rows GPIO{config.keypad.row_pins}, "
                 f"columns GPIO{config.keypad.column_pins}")
    lines.append(f"LCD 16x2: RS GPIO{config.lcd.rs_pin}, E GPIO{config.lcd.e_pin}, "
                 f"D4..D7 GPIO{config.lcd.data_pins}")
    t = config.telemetry
    if t is not None:
        lines.append(f"telemetry: {t.broker} as {t.topic_prefix}/{m.machine_id}, commands "
                     f"{'on' if t.commands else 'off'}")
    return lines
