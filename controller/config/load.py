"""The one config reader: TOML through typed, bounded getters.

Every key is read through a getter that names its unit and bounds; a key the
reader did not ask for fails start-up with the key and the file named, so a
misspelt ``max_credit_cent`` never silently falls back to a default.  With no
file at all the result is the built-in simulated machine of DESIGN.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from controller.config.mdb import (
    bills_section,
    cashless_section,
    check_mdb,
    mdb_section,
    tube_hoppers_capacity,
)
from controller.config.model import (
    AcceptorConfig,
    ApiConfig,
    Config,
    HopperConfig,
    KeypadConfig,
    LcdConfig,
    MachineConfig,
    MetricsConfig,
    MotorsConfig,
    SimConfig,
    SlotsConfig,
)
from controller.config.pins import check_pins
from controller.config.reader import Section
from controller.config.retention import retention_section
from controller.config.telemetry import telemetry_section
from controller.errors import ConfigError
from controller.money import COINS_CENTS
from drivers.cctalk.acceptor_models import ACCEPTOR_MODELS
from drivers.cctalk.hopper import HOPPER_MODELS, SECURITY_MODES
from drivers.keys import ROW_KEYS


def _machine(s: Section) -> MachineConfig:
    d = MachineConfig()
    machine_id = s.get_str("machine_id", d.machine_id)
    digits = len(machine_id) - len(machine_id.rstrip("0123456789"))
    if not 1 <= digits <= 7:
        raise s._fail("machine_id", f"must end in 1 to 7 digits (the audit report's sender "
                                    f"is maker_code and them, zero-padded), got {machine_id!r}")
    return MachineConfig(
        machine_id=machine_id,
        model=s.get_str("model", d.model),
        currency=_letters(s, "currency", d.currency),
        currency_code=s.get_int("currency_code", d.currency_code, minval=1, maxval=1999),
        maker_code=_letters(s, "maker_code", d.maker_code),
        asset_number=_audit_text(s, "asset_number", d.asset_number),
        max_credit_cents=s.get_int("max_credit_cents", d.max_credit_cents, minval=5,
                                   maxval=100_000),
        deposit_claim_s=s.get_float("deposit_claim_s", d.deposit_claim_s, above=0, maxval=600),
        deposit_claim_cooldown_s=s.get_float("deposit_claim_cooldown_s",
                                             d.deposit_claim_cooldown_s, minval=0, maxval=3600),
        simulated=s.get_bool("simulated", d.simulated),
    )


def _letters(s: Section, key: str, default: str) -> str:
    """Three capital letters (an ISO 4217 currency, an EVA-DTS maker code)."""
    value = s.get_str(key, default)
    if len(value) != 3 or not ("A" <= value[0] <= "Z" and "A" <= value[1] <= "Z"
                               and "A" <= value[2] <= "Z"):
        raise s._fail(key, f"must be 3 capital letters, got {value!r}")
    return value


def _audit_text(s: Section, key: str, default: str) -> str:
    """An element of the audit report: at most 20 printable ASCII characters, no ``*``."""
    value = s.get_str(key, default)
    if len(value) > 20 or not all(" " <= c <= "~" and c not in "*^" for c in value):
        raise s._fail(key, f"must be at most 20 printable ASCII characters (no * or ^), "
                           f"got {value!r}")
    return value


MIN_JWT_SECRET_BYTES = 32


def _jwt_secret(s: Section) -> str | None:
    secret = s.get_optional_str("jwt_secret")
    if secret is not None and len(secret.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
        raise s._fail("jwt_secret", f"must be at least {MIN_JWT_SECRET_BYTES} bytes "
                                    "(or leave it out: a random one is kept in the state dir)")
    return secret


def _api(s: Section) -> ApiConfig:
    d = ApiConfig()
    return ApiConfig(
        host=s.get_str("host", d.host),
        port=s.get_int("port", d.port, minval=0, maxval=65535),
        jwt_secret=_jwt_secret(s),
        access_token_s=s.get_int("access_token_s", d.access_token_s, minval=10, maxval=86400),
        refresh_token_s=s.get_int("refresh_token_s", d.refresh_token_s, minval=60,
                                  maxval=90 * 86400),
        login_attempts_per_minute=s.get_int("login_attempts_per_minute",
                                            d.login_attempts_per_minute, minval=1, maxval=1000),
        login_attempts_per_address_per_minute=s.get_int(
            "login_attempts_per_address_per_minute", d.login_attempts_per_address_per_minute,
            minval=1, maxval=10000),
        signups_per_address_per_hour=s.get_int("signups_per_address_per_hour",
                                               d.signups_per_address_per_hour,
                                               minval=1, maxval=100_000),
        signup_roles=s.get_str_list("signup_roles", d.signup_roles,
                                    choices=("buyer", "seller")),
        max_slots_per_seller=s.get_int("max_slots_per_seller", d.max_slots_per_seller,
                                       minval=0, maxval=1000),
        max_connections=s.get_int("max_connections", d.max_connections, minval=8,
                                  maxval=100_000),
        max_connections_per_address=s.get_int("max_connections_per_address",
                                              d.max_connections_per_address, minval=1,
                                              maxval=100_000),
        request_head_timeout_s=s.get_float("request_head_timeout_s",
                                           d.request_head_timeout_s, above=0, maxval=120),
        body_timeout_s=s.get_float("body_timeout_s", d.body_timeout_s, above=0, maxval=600),
        session_prune_interval_s=s.get_float("session_prune_interval_s",
                                             d.session_prune_interval_s, minval=1,
                                             maxval=86400),
        **_tls(s),
    )


def _tls(s: Section) -> dict[str, str | None]:
    cert, key = s.get_optional_str("tls_cert_file"), s.get_optional_str("tls_key_file")
    if (cert is None) != (key is None):
        raise s._fail("tls_cert_file" if cert is None else "tls_key_file",
                      "give both tls_cert_file and tls_key_file, or neither")
    return {"tls_cert_file": cert, "tls_key_file": key}


def _slots(s: Section) -> SlotsConfig:
    d = SlotsConfig()
    rows = s.get_str("rows", d.rows)
    if not rows or len(set(rows)) != len(rows) or not set(rows) <= set(ROW_KEYS):
        raise ConfigError(f"{s.source}: [slots] rows: distinct capital letters among the "
                          f"keypad's row keys {ROW_KEYS} (a customer must be able to key "
                          f"them), got {rows!r}")
    return SlotsConfig(
        rows=rows,
        columns=s.get_int("columns", d.columns, minval=1, maxval=9),
        capacity=s.get_int("capacity", d.capacity, minval=1, maxval=100),
    )


def _acceptor(s: Section) -> AcceptorConfig:
    d = AcceptorConfig()
    return AcceptorConfig(
        kind=s.get_str("kind", d.kind, choices=("cctalk", "pulse", "mdb")),
        port=s.get_str("port", d.port),
        address=s.get_int("address", d.address, minval=1, maxval=255),
        poll_interval_s=s.get_float("poll_interval_s", d.poll_interval_s, minval=0.02,
                                    maxval=2.0),
        echo=s.get_str("echo", d.echo, choices=("auto", "on", "off")),
        checksum=s.get_str("checksum", d.checksum, choices=("simple", "crc16")),
        model=s.get_str("model", d.model, choices=tuple(ACCEPTOR_MODELS)),
        pulse_pin=s.get_pin("pulse_pin", d.pulse_pin),
        inhibit_pin=s.get_pin("inhibit_pin", d.inhibit_pin),
    )


def _hopper(s: Section, index: int) -> HopperConfig:
    coin = s.get_int("coin_cents", 0)
    if coin not in COINS_CENTS:
        raise ConfigError(f"{s.source}: [hoppers[{index}]] coin_cents: must be one of "
                          f"{', '.join(map(str, COINS_CENTS))}, got {coin}")
    return HopperConfig(
        coin_cents=coin,
        kind=s.get_str("kind", "cctalk", choices=("cctalk", "pulse")),
        address=s.get_int("address", 3 + index, minval=3, maxval=10),
        capacity=s.get_int("capacity", 200, minval=1, maxval=5000),
        **_hopper_model(s, index),
        motor_pin=s.get_pin("motor_pin", None),
        sensor_pin=s.get_pin("sensor_pin", None),
        coin_timeout_s=s.get_float("coin_timeout_s", 5.0, minval=2.0, maxval=10.0),
        late_coin_s=s.get_float("late_coin_s", 0.5, minval=0.2, maxval=2.0),
    )


def _hopper_model(s: Section, index: int) -> dict[str, str]:
    """The hopper model and the dispense security it speaks; encrypted modes refused."""
    given = s.get_optional_str("security")
    if given is not None and given not in SECURITY_MODES:
        raise ConfigError(f"{s.source}: [hoppers[{index}]] security: {given!r} is not "
                          "supported (only serial, zero for SCH2 no-encryption firmware, or "
                          "none for a plain hopper; encrypted SCH2/SCH3 dispense needs the "
                          "vendor's cipher)")
    implied = {"zero": "sch2", "none": "plain"}.get(given or "", "flow")
    model = s.get_str("model", implied, choices=tuple(HOPPER_MODELS))
    security = given or HOPPER_MODELS[model].security
    if security != HOPPER_MODELS[model].security:
        raise ConfigError(f"{s.source}: [hoppers[{index}]] security: a {model} hopper speaks "
                          f"{HOPPER_MODELS[model].security!r}, not {security!r}")
    return {"model": model, "security": security}


def _motors(s: Section, slots: SlotsConfig) -> MotorsConfig:
    d = MotorsConfig()
    return MotorsConfig(
        row_pins=s.get_int_list("row_pins", d.row_pins[: len(slots.rows)], length=len(slots.rows)),
        column_pins=s.get_int_list("column_pins", d.column_pins[: slots.columns],
                                   length=slots.columns),
        cam_pin=s.get_int("cam_pin", d.cam_pin, minval=0, maxval=53),
        drop_pin=s.get_int("drop_pin", d.drop_pin, minval=0, maxval=53),
        leave_home_timeout_s=s.get_float("leave_home_timeout_s", d.leave_home_timeout_s,
                                         above=0, maxval=5),
        vend_timeout_s=s.get_float("vend_timeout_s", d.vend_timeout_s, above=0, maxval=30),
        drop_wait_s=s.get_float("drop_wait_s", d.drop_wait_s, above=0, maxval=5),
        nudges=s.get_int("nudges", d.nudges, minval=0, maxval=5),
    )


def _keypad(s: Section) -> KeypadConfig:
    d = KeypadConfig()
    return KeypadConfig(row_pins=s.get_int_list("row_pins", d.row_pins, length=4),
                        column_pins=s.get_int_list("column_pins", d.column_pins, length=4))


def _lcd(s: Section) -> LcdConfig:
    d = LcdConfig()
    return LcdConfig(rs_pin=s.get_int("rs_pin", d.rs_pin, minval=0, maxval=53),
                     e_pin=s.get_int("e_pin", d.e_pin, minval=0, maxval=53),
                     data_pins=s.get_int_list("data_pins", d.data_pins, length=4))


def _sim(s: Section) -> SimConfig:
    d = SimConfig()
    return SimConfig(
        hopper_fill=s.get_int("hopper_fill", d.hopper_fill, minval=0, maxval=5000),
        speed=s.get_float("speed", d.speed, above=0, maxval=100),
    )


def parse(data: dict[str, Any], source: str) -> Config:
    top = Section(data, "", source)
    machine = _machine(top.section("machine"))
    slots = _slots(top.section("slots"))
    hopper_sections = top.sections("hoppers")
    acceptor = _acceptor(top.section("acceptor"))
    check_mdb("hoppers" in data, acceptor.kind, "bills" in data or "cashless" in data,
              "mdb" in data, source)
    mdb = mdb_section(top.section("mdb"))
    hoppers = (tuple(_hopper(h, i) for i, h in enumerate(hopper_sections))
               if "hoppers" in data else Config().hoppers)
    if acceptor.kind == "mdb":  # the changer's tubes pay change
        hoppers = tuple(HopperConfig(coin_cents=c, kind="mdb", address=0, capacity=n)
                        for c, n in tube_hoppers_capacity(mdb).items())
    if len({h.coin_cents for h in hoppers}) != len(hoppers):
        raise ConfigError(f"{source}: [hoppers] two hoppers for the same coin")
    config = Config(
        machine=machine,
        api=_api(top.section("api")),
        slots=slots,
        acceptor=acceptor,
        hoppers=hoppers,
        mdb=mdb,
        bills=bills_section(top.section("bills")) if "bills" in data else None,
        motors=_motors(top.section("motors"), slots),
        keypad=_keypad(top.section("keypad")),
        lcd=_lcd(top.section("lcd")),
        sim=_sim(top.section("sim")),
        metrics=MetricsConfig(public=top.section("metrics").get_bool("public", False)),
        telemetry=telemetry_section(top.section("telemetry")) if "telemetry" in data else None,
        retention=retention_section(top.section("retention")),
        cashless=cashless_section(top.section("cashless")),
        source=source,
    )
    top.check_unknown()
    check_pins(config)
    return config


def load(path: str | Path | None) -> Config:
    """Read ``path`` (TOML), or return the built-in simulated machine for None."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse(data, str(p))
