"""Build the real devices a config describes (the Pi, not the simulator).

The ccTalk acceptor and every ccTalk hopper share one bus (one serial port,
one ``CctalkLink``); GPIO devices use gpiozero's default pin factory (set
``GPIOZERO_PIN_FACTORY=lgpio`` on a Pi 5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from controller.config import Config
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


async def build_hardware(config: Config) -> tuple[Devices, None]:
    a, mo, kp, lcd = config.acceptor, config.motors, config.keypad, config.lcd
    closers: list[Callable[[], Awaitable[None]]] = []
    link: CctalkLink | None = None
    if a.kind == "cctalk" or any(h.kind == "cctalk" for h in config.hoppers):
        link = CctalkLink(a.port, echo=cast(EchoMode, a.echo),
                          checksum=cast(ChecksumMode, a.checksum))
        await link.start()
        closers.append(link.close)
    acceptor: CoinAcceptor
    if a.kind == "cctalk":
        assert link is not None
        acceptor = CctalkCoinAcceptor(link, address=a.address, poll_interval_s=a.poll_interval_s)
    else:
        acceptor = PulseCoinAcceptor(pulse_pin=a.pulse_pin, inhibit_pin=a.inhibit_pin)
    hoppers: dict[int, Hopper] = {}
    for h in config.hoppers:
        if h.kind == "cctalk":
            assert link is not None
            hoppers[h.coin_cents] = CctalkHopper(link, address=h.address,
                                                 coin_cents=h.coin_cents,
                                                 security=cast(Security, h.security),
                                                 counter_moves_on_refusal=HOPPER_MODELS[
                                                     h.model].counter_moves_on_refusal)
        else:
            if not h.motor_pin or not h.sensor_pin:
                raise ConfigError(f"{config.source}: pulse hopper {h.coin_cents}c needs "
                                  "motor_pin and sensor_pin")
            hoppers[h.coin_cents] = PulseHopper(h.coin_cents, motor_pin=h.motor_pin,
                                                exit_pin=h.sensor_pin,
                                                coin_timeout_s=h.coin_timeout_s,
                                                late_coin_s=h.late_coin_s)
    spirals = GpioSpiralMatrix(
        row_pins=mo.row_pins, column_pins=mo.column_pins, cam_pin=mo.cam_pin,
        drop_pin=mo.drop_pin, row_names=config.slots.rows,
        leave_home_timeout_s=mo.leave_home_timeout_s,
        turn_timeout_s=max(0.1, mo.vend_timeout_s - mo.leave_home_timeout_s),
        drop_wait_s=mo.drop_wait_s, nudges=mo.nudges)
    keypad = MatrixKeypad(row_pins=kp.row_pins, column_pins=kp.column_pins)
    display = Hd44780Display(rs_pin=lcd.rs_pin, e_pin=lcd.e_pin, data_pins=lcd.data_pins)
    return Devices(acceptor=acceptor, hoppers=hoppers, spirals=spirals, keypad=keypad,
                   display=display, extra_closers=closers), None
