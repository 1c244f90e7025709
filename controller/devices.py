"""The one device builder: a config becomes drivers, for real and simulated hardware.

Real and simulated machines differ only in where the devices are: the GPIO
pin factory (gpiozero's default on a Pi, the simulators' mock factory), the
ccTalk serial port (the config's, or the simulated bus's pseudo-terminal),
and the drivers' timings (a simulated machine runs its mechanics fast).  Every
check of the config itself (pins used twice, missing, reserved) was made when
it was parsed (``controller.config.pins``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from gpiozero.pins import Factory

from controller.config import AcceptorConfig, Config, HopperConfig
from controller.errors import ConfigError
from drivers.base import CoinAcceptor, Devices, Hopper
from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.frame import ChecksumMode
from drivers.cctalk.hopper import HOPPER_MODELS, CctalkHopper, Security
from drivers.cctalk.link import CctalkLink, EchoMode
from drivers.gpio.keypad import MatrixKeypad
from drivers.gpio.lcd import Hd44780Display
from drivers.gpio.pulse_acceptor import PulseCoinAcceptor
from drivers.gpio.pulse_hopper import PulseHopper
from drivers.gpio.spiral import GpioSpiralMatrix
from drivers.mdb.bills import MdbBillValidator
from drivers.mdb.cashless import MdbCashlessReader
from drivers.mdb.changer import MdbCoinChanger
from drivers.mdb.changer_parts import ChangerAcceptor, ChangerTube
from drivers.mdb.link import MdbLink
from drivers.mdb.qibixx import QibixxLink
from drivers.mdb.raw9 import Raw9Link


@dataclass(frozen=True)
class CctalkTimings:
    """The ccTalk drivers' timings; None keeps the config's value or the driver's default."""

    reply_timeout_s: float | None = None
    retries: int | None = None
    poll_interval_s: float | None = None  # the acceptor's; at most the config's
    lost_poll_interval_s: float | None = None
    status_poll_interval_s: float | None = None  # the hoppers'
    dispense_timeout_s: float | None = None
    late_coin_window_s: float | None = None
    reset_settle_s: float | None = None  # the hoppers' wait after a reset (header 1)


@dataclass(frozen=True)
class GpioTimings:
    """The GPIO drivers' timings; None keeps the config's value or the driver's default."""

    leave_home_timeout_s: float | None = None
    turn_timeout_s: float | None = None
    drop_wait_s: float | None = None
    key_scan_s: float | None = None
    lcd_power_on_delay_s: float | None = None
    lcd_byte_delay_s: float | None = None
    pulse_min_s: float | None = None  # pulse acceptor
    pulse_max_s: float | None = None
    train_gap_s: float | None = None
    acceptor_retry_s: float | None = None
    coin_timeout_s: float | None = None  # pulse hoppers
    late_coin_s: float | None = None
    exit_pulse_min_s: float | None = None
    exit_pulse_max_s: float | None = None


@dataclass(frozen=True)
class MdbTimings:
    """The MDB drivers' timings; None keeps the config's value or the driver's default."""

    poll_interval_s: float | None = None  # a simulated reader is polled faster

    reset_retry_s: float | None = None
    non_response_s: float | None = None
    coin_s: float | None = None  # longest a changer takes per coin paid
    start_grace_s: float | None = None


@dataclass(frozen=True)
class DevicePorts:
    """Where the devices are.  The defaults are a real Pi's."""

    pin_factory: Factory | None = None  # None: gpiozero's default factory
    cctalk_port: str | None = None  # None: the config's [acceptor] port
    cctalk_link: Callable[..., CctalkLink] = CctalkLink  # how the ccTalk link is made
    cctalk: CctalkTimings = field(default_factory=CctalkTimings)
    gpio: GpioTimings = field(default_factory=GpioTimings)
    mdb_port: str | None = None  # None: the config's [mdb] port
    mdb: MdbTimings = field(default_factory=MdbTimings)


def _given(**options: Any) -> dict[str, Any]:
    """Keyword arguments without the ones left at None."""
    return {key: value for key, value in options.items() if value is not None}


def _pin(config: Config, pin: int | None, what: str) -> int:
    if pin is None:  # config parsing refuses this already; a config built in code may not
        raise ConfigError(f"{config.source}: {what} has no pin")
    return pin


async def build_devices(config: Config, ports: DevicePorts) -> Devices:
    """Every driver the config names, constructed (nothing started but the ccTalk port,
    which when it cannot be opened yet is tried again by every request)."""
    closers: list[Callable[[], Awaitable[None]]] = []
    mdb = await _mdb_link(config, ports, closers)
    if config.acceptor.kind == "mdb":
        assert mdb is not None
        acceptor, hoppers = _mdb_changer(config, ports, mdb)
    else:
        link = await _cctalk_link(config, ports, closers)
        hoppers = {h.coin_cents: _hopper(config, h, link, ports) for h in config.hoppers}
        acceptor = _acceptor(config, config.acceptor, link, ports)
    bills = None
    if config.bills is not None and mdb is not None:
        t = ports.mdb
        bills = MdbBillValidator(mdb, accept_cents=config.bills.accept_cents,
                                 poll_interval_s=config.mdb.poll_interval_s,
                                 **_given(reset_retry_s=t.reset_retry_s,
                                          non_response_s=t.non_response_s))
    return Devices(acceptor=acceptor, hoppers=hoppers,
                   spirals=_spirals(config, ports), keypad=_keypad(config, ports),
                   display=_display(config, ports), extra_closers=closers, bills=bills,
                   card_reader=_card_reader(config, ports, mdb))


async def _mdb_link(config: Config, ports: DevicePorts,
                    closers: list[Callable[[], Awaitable[None]]]) -> MdbLink | None:
    """The one MDB bus every MDB device shares (None when the config has none)."""
    if config.acceptor.kind != "mdb" and config.bills is None and not config.cashless.enabled:
        return None
    m = config.mdb
    port = ports.mdb_port or m.port
    link: MdbLink = QibixxLink(port) if m.interface == "qibixx" else Raw9Link(port)
    await link.start()  # a missing board is a device fault, retried, never fatal
    closers.append(link.close)
    return link


def _card_reader(config: Config, ports: DevicePorts,
                 link: MdbLink | None) -> MdbCashlessReader | None:
    """The cashless reader at 10, when ``[cashless] kind = "mdb"`` (not started)."""
    c, t = config.cashless, ports.mdb
    if not c.enabled or link is None:
        return None
    return MdbCashlessReader(
        link, always_idle=c.always_idle, vend_timeout_s=c.vend_timeout_s,
        max_price_cents=c.max_price_cents, vmc_serial=config.machine.machine_id,
        poll_interval_s=t.poll_interval_s or config.mdb.poll_interval_s,
        **_given(reset_retry_s=t.reset_retry_s, non_response_s=t.non_response_s))


def _mdb_changer(config: Config, ports: DevicePorts,
                 link: MdbLink) -> tuple[CoinAcceptor, dict[int, Hopper]]:
    """The MDB changer as the acceptor, and its tubes as the hoppers."""
    m, t = config.mdb, ports.mdb
    changer = MdbCoinChanger(link, poll_interval_s=m.poll_interval_s,
                             **_given(reset_retry_s=t.reset_retry_s,
                                      non_response_s=t.non_response_s, coin_s=t.coin_s,
                                      start_grace_s=t.start_grace_s))
    tubes: dict[int, Hopper] = {h.coin_cents: ChangerTube(changer, h.coin_cents)
                                for h in config.hoppers}
    return ChangerAcceptor(changer, coins_cents=list(tubes)), tubes


async def _cctalk_link(config: Config, ports: DevicePorts,
                       closers: list[Callable[[], Awaitable[None]]]) -> CctalkLink | None:
    a, t = config.acceptor, ports.cctalk
    if a.kind != "cctalk" and not any(h.kind == "cctalk" for h in config.hoppers):
        return None
    link = ports.cctalk_link(ports.cctalk_port or a.port, echo=cast(EchoMode, a.echo),
                             checksum=cast(ChecksumMode, a.checksum),
                             **_given(reply_timeout_s=t.reply_timeout_s, retries=t.retries))
    await link.start(defer=True)  # a missing port is a device fault, retried, never fatal
    closers.append(link.close)
    return link


def _acceptor(config: Config, a: AcceptorConfig, link: CctalkLink | None,
              ports: DevicePorts) -> CoinAcceptor:
    if a.kind == "cctalk":
        assert link is not None
        t = ports.cctalk
        poll_s = min(a.poll_interval_s, t.poll_interval_s or a.poll_interval_s)
        return CctalkCoinAcceptor(link, address=a.address, poll_interval_s=poll_s,
                                  **_given(lost_poll_interval_s=t.lost_poll_interval_s))
    g = ports.gpio
    return PulseCoinAcceptor(
        pulse_pin=_pin(config, a.pulse_pin, "the pulse acceptor"),
        inhibit_pin=_pin(config, a.inhibit_pin, "the acceptor inhibit"),
        pin_factory=ports.pin_factory,
        **_given(pulse_min_s=g.pulse_min_s, pulse_max_s=g.pulse_max_s,
                 train_gap_s=g.train_gap_s, retry_s=g.acceptor_retry_s))


def _hopper(config: Config, h: HopperConfig, link: CctalkLink | None,
            ports: DevicePorts) -> Hopper:
    if h.kind == "cctalk":
        assert link is not None
        t = ports.cctalk
        return CctalkHopper(link, address=h.address, coin_cents=h.coin_cents,
                            security=cast(Security, h.security),
                            counter_moves_on_refusal=HOPPER_MODELS[
                                h.model].counter_moves_on_refusal,
                            **_given(status_poll_interval_s=t.status_poll_interval_s,
                                     dispense_timeout_s=t.dispense_timeout_s,
                                     late_coin_window_s=t.late_coin_window_s,
                                     reset_settle_s=t.reset_settle_s))
    g = ports.gpio
    return PulseHopper(
        h.coin_cents, motor_pin=_pin(config, h.motor_pin, f"hopper {h.coin_cents}c motor"),
        exit_pin=_pin(config, h.sensor_pin, f"hopper {h.coin_cents}c sensor"),
        pin_factory=ports.pin_factory,
        coin_timeout_s=g.coin_timeout_s or h.coin_timeout_s,
        late_coin_s=g.late_coin_s or h.late_coin_s,
        **_given(exit_pulse_min_s=g.exit_pulse_min_s, exit_pulse_max_s=g.exit_pulse_max_s))


def _spirals(config: Config, ports: DevicePorts) -> GpioSpiralMatrix:
    mo, g = config.motors, ports.gpio
    return GpioSpiralMatrix(
        row_pins=mo.row_pins, column_pins=mo.column_pins, cam_pin=mo.cam_pin,
        drop_pin=mo.drop_pin, row_names=config.slots.rows, pin_factory=ports.pin_factory,
        leave_home_timeout_s=g.leave_home_timeout_s or mo.leave_home_timeout_s,
        turn_timeout_s=g.turn_timeout_s or max(0.1, mo.vend_timeout_s - mo.leave_home_timeout_s),
        drop_wait_s=g.drop_wait_s or mo.drop_wait_s, nudges=mo.nudges)


def _keypad(config: Config, ports: DevicePorts) -> MatrixKeypad:
    kp = config.keypad
    return MatrixKeypad(row_pins=kp.row_pins, column_pins=kp.column_pins,
                        pin_factory=ports.pin_factory,
                        **_given(scan_interval_s=ports.gpio.key_scan_s))


def _display(config: Config, ports: DevicePorts) -> Hd44780Display:
    lcd, g = config.lcd, ports.gpio
    return Hd44780Display(rs_pin=lcd.rs_pin, e_pin=lcd.e_pin, data_pins=lcd.data_pins,
                          pin_factory=ports.pin_factory,
                          **_given(power_on_delay_s=g.lcd_power_on_delay_s,
                                   byte_delay_s=g.lcd_byte_delay_s))
